// Command registry is the benchmark's registry: go-containerregistry's
// in-memory registry on loopback, seeded with a tiny base image (the
// benchmark cannot pull ko's default base from the internet), counting
// uploads. It prints REGISTRY=host:port once ready; GET /_counts returns
// {"requests":N,"uploads":N,"manifest_puts":N,"bytes":N} and resets them.
package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

type counts struct {
	Requests    int   `json:"requests"`
	Uploads     int   `json:"uploads"`
	ManifestPUT int   `json:"manifest_puts"`
	Bytes       int64 `json:"bytes"`
}

func main() {
	platforms := flag.String("platforms", "linux/amd64,linux/arm64", "platforms of the seeded base image")
	flag.Parse()
	if err := run(strings.Split(*platforms, ",")); err != nil {
		fmt.Fprintln(os.Stderr, "registry:", err)
		os.Exit(1)
	}
}

func run(platforms []string) error {
	var mu sync.Mutex
	var c counts
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/_counts" {
			mu.Lock()
			json.NewEncoder(w).Encode(c)
			c = counts{}
			mu.Unlock()
			return
		}
		mu.Lock()
		c.Requests++
		switch {
		case r.Method == http.MethodPost && strings.Contains(r.URL.Path, "/blobs/uploads"):
			c.Uploads++
		case r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/"):
			c.ManifestPUT++
		}
		if r.ContentLength > 0 {
			c.Bytes += r.ContentLength
		}
		mu.Unlock()
		reg.ServeHTTP(w, r)
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go http.Serve(l, h)
	host := l.Addr().String()
	if err := seed(host+"/base/static:latest", platforms); err != nil {
		return err
	}
	mu.Lock()
	c = counts{}
	mu.Unlock()
	fmt.Printf("REGISTRY=%s\n", host)
	select {}
}

// seed pushes a base image index with one tiny layer per platform.
func seed(ref string, platforms []string) error {
	var adds []mutate.IndexAddendum
	for _, p := range platforms {
		goos, arch, _ := strings.Cut(p, "/")
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		body := "bench base " + p + "\n"
		tw.WriteHeader(&tar.Header{Name: "etc/base-release", Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(body))
		tw.Close()
		b := buf.Bytes()
		layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
		if err != nil {
			return err
		}
		img, err := mutate.AppendLayers(mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON), layer)
		if err != nil {
			return err
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return err
		}
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture = goos, arch
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			return err
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: goos, Architecture: arch}}})
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		return err
	}
	return remote.WriteIndex(r, mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...))
}
