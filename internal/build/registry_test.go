package build

import (
	"archive/tar"
	"bytes"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// testRegistry is go-containerregistry's in-memory registry on loopback,
// counting writes, optionally behind basic auth.
type testRegistry struct {
	Host string // 127.0.0.1:PORT
	srv  *httptest.Server

	mu     sync.Mutex
	writes []string // "POST /v2/...": uploads, manifest and tag PUTs
}

func newRegistry(t *testing.T, user, password string) *testRegistry {
	t.Helper()
	r := &testRegistry{}
	reg := registry.New(registry.Logger(nopLogger()))
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if user != "" {
			u, p, ok := req.BasicAuth()
			if !ok || u != user || p != password {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
				return
			}
		}
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			r.mu.Lock()
			r.writes = append(r.writes, req.Method+" "+req.URL.Path)
			r.mu.Unlock()
		}
		reg.ServeHTTP(w, req)
	}))
	t.Cleanup(r.srv.Close)
	r.Host = strings.TrimPrefix(r.srv.URL, "http://")
	return r
}

// takeWrites returns the write requests since the last call.
func (r *testRegistry) takeWrites() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	w := r.writes
	r.writes = nil
	return w
}

func nopLogger() *log.Logger { return log.New(io.Discard, "", 0) }

// pushBase pushes a tiny base image (one layer with /etc/base-release) for
// each platform: one image, or an index when there are several. The
// internet is not needed, and the base layers are recognisable.
func pushBase(t *testing.T, ref string, auth remote.Option, platforms ...string) (layers map[string]v1.Hash) {
	t.Helper()
	layers = map[string]v1.Hash{}
	var imgs []mutate.IndexAddendum
	for _, p := range platforms {
		pl, err := parsePlatform(p)
		if err != nil {
			t.Fatal(err)
		}
		layer := tarLayer(t, "etc/base-release", "test base "+p+"\n")
		img, err := mutate.AppendLayers(empty.Image, layer)
		if err != nil {
			t.Fatal(err)
		}
		img = mutate.MediaType(img, types.OCIManifestSchema1)
		img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture, cf.Variant = pl.OS, pl.Arch, pl.Variant
		cf.Config.Env = []string{"PATH=/usr/bin:/bin"}
		cf.Config.User = "65532"
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			t.Fatal(err)
		}
		d, _ := layer.Digest()
		layers[p] = d
		imgs = append(imgs, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: pl.OS, Architecture: pl.Arch, Variant: pl.Variant}}})
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	opts := []remote.Option{}
	if auth != nil {
		opts = append(opts, auth)
	}
	if len(imgs) == 1 {
		err = remote.Write(r, imgs[0].Add.(v1.Image), opts...)
	} else {
		idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), imgs...)
		err = remote.WriteIndex(r, idx, opts...)
	}
	if err != nil {
		t.Fatal(err)
	}
	return layers
}

func tarLayer(t *testing.T, file, content string) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: file, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	tw.Write([]byte(content))
	tw.Close()
	b := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// fileFromImage returns a file's contents from the image's layers (the
// last layer that has it).
func fileFromImage(t *testing.T, img v1.Image, file string) []byte {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err != nil {
				break
			}
			if strings.TrimPrefix(h.Name, "/") == file {
				out, _ = io.ReadAll(tr)
			}
		}
		rc.Close()
	}
	return out
}
