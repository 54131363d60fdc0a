package sandbox

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
)

// ociRegistry is a real OCI registry on loopback (go-containerregistry's
// pkg/registry, in memory), optionally behind basic auth. Runs check their
// images against it.
type ociRegistry struct {
	addr    string
	handler http.Handler // unauthenticated, for the sandbox's own checks
	srv     *http.Server
}

func startRegistry(user, password string, logger *log.Logger) (*ociRegistry, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("registry listen: %w", err)
	}
	h := registry.New(registry.Logger(logger))
	r := &ociRegistry{addr: ln.Addr().String(), handler: h}
	var served http.Handler = h
	if user != "" || password != "" {
		served = basicAuth(user, password, h)
	}
	r.srv = &http.Server{Handler: served, ReadHeaderTimeout: 10 * time.Second, ErrorLog: logger}
	go func() {
		if err := r.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Printf("sandbox registry: %v", err)
		}
	}()
	return r, nil
}

func basicAuth(user, password string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(user)) != 1 ||
			subtle.ConstantTimeCompare([]byte(p), []byte(password)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="kfp-sandbox"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// check returns an image-pull error message when image names the sandbox
// registry and is not there (by tag or digest), and "" otherwise.
func (r *ociRegistry) check(image string) string {
	if image == "" {
		return ""
	}
	ref, err := parseImage(image)
	if err != nil || ref.Context().RegistryStr() != r.addr {
		return ""
	}
	req := httptest.NewRequest(http.MethodHead, "/v2/"+ref.Context().RepositoryStr()+"/manifests/"+ref.Identifier(), nil)
	req.Header.Set("Accept", "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json")
	rec := httptest.NewRecorder()
	r.handler.ServeHTTP(rec, req)
	if rec.Code == http.StatusOK {
		return ""
	}
	return fmt.Sprintf("ErrImagePull: rpc error: code = NotFound desc = failed to pull and unpack image %q: %s: not found", image, ref.String())
}

// parseImage parses an image reference, including repo:tag@digest (which
// name.ParseReference refuses): the digest is what a runtime pulls.
func parseImage(image string) (name.Reference, error) {
	if repo, digest, ok := strings.Cut(image, "@"); ok {
		if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
			repo = repo[:i]
		}
		return name.NewDigest(repo + "@" + digest)
	}
	return name.ParseReference(image)
}

func (r *ociRegistry) close() {
	r.srv.Close()
}
