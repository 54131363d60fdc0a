package build

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/authn/github"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Auth is a username and password for one registry (from
// KF_RUN_REGISTRY_USERNAME/PASSWORD), tried before the other sources.
type Auth struct {
	Registry           string // host[:port]; empty: the registry of Options.Repo
	Username, Password string
	// Source names where they came from, for error messages.
	Source string
}

// keychain asks its sources in order and remembers, per registry, which one
// answered, so a denied push can say which credential was used.
type keychain struct {
	sources []keySource
	mu      sync.Mutex
	used    map[string]string // registry -> source name
}

type keySource struct {
	name string
	kc   authn.Keychain
}

// newKeychain is the CI keychain: explicit username/password for one
// registry, then docker's config.json and credential helpers
// (DOCKER_CONFIG), then GITHUB_TOKEN for ghcr.io.
func newKeychain(a Auth) *keychain {
	k := &keychain{used: map[string]string{}}
	if a.Username != "" || a.Password != "" {
		k.sources = append(k.sources, keySource{cmp.Or(a.Source, "username/password from env") + " (for " + a.Registry + ")", staticKeychain{a}})
	}
	k.sources = append(k.sources,
		keySource{"docker config.json and credential helpers ($DOCKER_CONFIG or ~/.docker)", authn.DefaultKeychain},
		keySource{"GITHUB_TOKEN (ghcr.io only)", github.Keychain})
	return k
}

func (k *keychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	for _, s := range k.sources {
		a, err := s.kc.Resolve(r)
		if err != nil {
			return nil, fmt.Errorf("credentials for %s from %s: %w", r.RegistryStr(), s.name, err)
		}
		if a != authn.Anonymous {
			k.mu.Lock()
			k.used[r.RegistryStr()] = s.name
			k.mu.Unlock()
			return a, nil
		}
	}
	return authn.Anonymous, nil
}

// explain adds the registry and the credential source to an
// authentication or authorization failure.
func (k *keychain) explain(err error, fallbackRegistry string) error {
	if err == nil {
		return nil
	}
	var te *transport.Error
	status := 0
	reg := fallbackRegistry
	if errors.As(err, &te) {
		status = te.StatusCode
		if te.Request != nil && te.Request.URL != nil {
			reg = te.Request.URL.Host
		}
	}
	msg := err.Error()
	denied := status == http.StatusUnauthorized || status == http.StatusForbidden ||
		strings.Contains(msg, "UNAUTHORIZED") || strings.Contains(msg, "DENIED") ||
		strings.Contains(msg, "401 Unauthorized") || strings.Contains(msg, "403 Forbidden")
	if !denied {
		return err
	}
	k.mu.Lock()
	src, ok := k.used[reg]
	k.mu.Unlock()
	var tried []string
	for _, s := range k.sources {
		tried = append(tried, s.name)
	}
	if ok {
		return fmt.Errorf("registry %s denied access with the credentials from %s: %w", reg, src, err)
	}
	return fmt.Errorf("registry %s denied access: no credentials found for it (tried: %s): %w", reg, strings.Join(tried, "; "), err)
}

type staticKeychain struct{ a Auth }

func (s staticKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if r.RegistryStr() != s.a.Registry {
		return authn.Anonymous, nil
	}
	return &authn.Basic{Username: s.a.Username, Password: s.a.Password}, nil
}
