package build

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// CheckPush tells whether the credentials a build would use may push to
// o.Repo, without building or pushing an image: it starts an upload and
// leaves it unfinished, as go-containerregistry's CheckPushPermission does.
// It returns the credential source that answered ("" for anonymous).
// kf-run doctor uses it.
func CheckPush(ctx context.Context, o Options) (source string, err error) {
	repo := strings.TrimSuffix(o.Repo, "/")
	if repo == "" {
		return "", &ConfigError{Err: errors.New("no image repository: set images.repo in kf-run.yaml or KO_DOCKER_REPO")}
	}
	var nopt []name.Option
	if o.Insecure {
		nopt = append(nopt, name.Insecure)
	}
	ref, err := name.NewTag(repo+":kf-run-doctor", nopt...)
	if err != nil {
		return "", &ConfigError{Err: err}
	}
	auth := o.Auth
	if auth.Registry == "" {
		auth.Registry = ref.Context().RegistryStr()
	}
	kc := newKeychain(auth)
	t := o.Transport
	if t == nil {
		tr := remote.DefaultTransport.(*http.Transport).Clone()
		if o.Insecure {
			tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // only when images.insecure asks
		}
		t = tr
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if err := remote.CheckPushPermission(ref, kc, t); err != nil {
		return "", kc.explain(err, ref.Context().RegistryStr())
	}
	kc.mu.Lock()
	defer kc.mu.Unlock()
	return kc.used[ref.Context().RegistryStr()], nil
}
