package auth

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// connectKube reaches the ml-pipeline service through the Kubernetes API
// server's service proxy (/api/v1/namespaces/NS/services/NAME:PORT/proxy),
// with the kubeconfig context's own transport: client-go's TLS, bearer
// tokens, client certificates and exec credential plugins, as kubectl
// uses them. No kubectl is needed.
func connectKube(host string, s Settings, o Options) (*Conn, error) {
	if host != "" {
		return nil, fmt.Errorf("both a KFP host (%s) and a kubeconfig context are set: the context reaches KFP through the Kubernetes API server, so drop one", host)
	}
	k := s.Kube
	if k.Service == "" {
		k.Service = "ml-pipeline"
	}
	if k.Namespace == "" {
		k.Namespace = "kubeflow"
	}
	if k.Port == 0 {
		k.Port = 8888
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if k.Kubeconfig != "" {
		rules.ExplicitPath = k.Kubeconfig
	}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: k.Context})
	raw, err := cc.RawConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	ctxName := k.Context
	if ctxName == "" {
		ctxName = raw.CurrentContext
	}
	kctx, ok := raw.Contexts[ctxName]
	if !ok {
		var have []string
		for n := range raw.Contexts {
			have = append(have, n)
		}
		if len(have) == 0 {
			return nil, errors.New("kubeconfig: no contexts (set KUBECONFIG or kubeflow.kubernetes.kubeconfig)")
		}
		return nil, fmt.Errorf("kubeconfig: no context %q (have: %s)", ctxName, strings.Join(have, ", "))
	}
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig context %q: %w", ctxName, err)
	}
	if cfg.BearerToken != "" {
		o.OnSecret(cfg.BearerToken)
	}
	if cfg.Password != "" {
		o.OnSecret(cfg.Password)
	}
	rt, err := rest.TransportFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig context %q: %w", ctxName, err)
	}
	api, _, err := rest.DefaultServerURL(cfg.Host, "", schema.GroupVersion{}, rest.IsConfigTransportTLS(*cfg))
	if err != nil {
		return nil, fmt.Errorf("kubeconfig context %q: %w", ctxName, err)
	}
	proxy := strings.TrimRight(api.String(), "/") + "/api/v1/namespaces/" + url.PathEscape(k.Namespace) +
		"/services/" + url.PathEscape(k.Service) + ":" + strconv.Itoa(k.Port) + "/proxy"
	return &Conn{
		Host:      proxy,
		Transport: rt,
		Mode:      ModeKube,
		Describe: fmt.Sprintf("kubeconfig context %q (user %q) through the API server %s to service %s/%s:%d",
			ctxName, kctx.AuthInfo, api.Redacted(), k.Namespace, k.Service, k.Port),
		Identity: kctx.AuthInfo,
		Kube:     cfg,
	}, nil
}
