package main

import (
	"slices"
	"sync"

	"github.com/kf-run/kf-run/internal/auth"
	"github.com/kf-run/kf-run/internal/console"
	"github.com/kf-run/kf-run/internal/kfp"
	"github.com/kf-run/kf-run/internal/plan"
	"github.com/kf-run/kf-run/internal/podlog"
)

// connect resolves the plan's credentials into a KFP client. Credentials
// obtained while running (a minted ID token, a session cookie, a token read
// from a file) are masked before they are sent, and join the plan's
// secrets for the reports.
func connect(p *plan.Plan, out *console.Console, e env) (*kfp.Client, *auth.Conn, error) {
	var mu sync.Mutex
	conn, err := auth.Connect(p.Target.Host, p.Auth, auth.Options{
		Base: e.kfpOptions.Transport,
		OnSecret: func(v string) {
			out.Mask(v)
			mu.Lock()
			if !slices.Contains(p.Secrets, v) {
				p.Secrets = append(p.Secrets, v)
			}
			mu.Unlock()
		},
		Warn:   func(s string) { out.Warningf("kubeflow.tls", "%s", s) },
		Getenv: e.getenv,
	})
	if err != nil {
		return nil, nil, err
	}
	p.Target.Host = conn.Host
	if p.Target.UIURL == "" && p.Target.APIServerOnly() {
		// Said once here, rather than a dead link in every report.
		out.Warningf("kubeflow.ui_url", "%s is KFP's API server, which serves no UI: runs get no links. Set kubeflow.ui_url (KF_RUN_UI_URL) to the KFP UI's address, e.g. https://kubeflow.example.com/pipeline", p.Target.Host)
	}
	o := e.kfpOptions
	o.Transport = conn.Transport
	o.Hint = noSecretsHint(p.CI, conn.Hint(p.Target.Namespace))
	o.UserAgent = "kf-run/" + version
	if conn.Kube != nil && o.Pods == nil {
		r, err := podlog.New(conn.Kube)
		if err != nil {
			return nil, nil, err
		}
		o.Pods = r
	}
	client, err := kfp.New(p.Target, o)
	return client, conn, err
}
