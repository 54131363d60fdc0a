package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// The skip cache. ko's builder relinks every binary and runs go list and
// git for every image even when nothing changed (about 0.45 s per image and
// platform). Instead, each image gets a key over everything its digest
// depends on: the compiled BuildIDs of the package and all its dependencies
// per platform, the base image's reference and digest, the build env, flags
// and ldflags, kodata, the VCS state go stamps, and the options. The first
// push tags the image "kfrun-<key>"; a later run finds that tag with one
// manifest HEAD and builds and pushes nothing.

func skipTag(key string) string { return "kfrun-" + key }

// keys warms the Go build cache (one `go list -export -deps` per platform
// and build config, platforms in parallel) and returns each import path's
// key, or "" when the image must be built (skip cache off, platforms
// "all", templated flags, a compile error, an unreachable base).
func (s *session) keys(ctx context.Context, ips []string) map[string]string {
	keys := map[string]string{}
	if s.all {
		return keys
	}
	// Group the images by what changes compilation besides the platform.
	type group struct {
		flags, env []string
		ips        []string
	}
	var groups []*group
	for _, ip := range ips {
		env, flags, _ := s.config(ip)
		i := slices.IndexFunc(groups, func(g *group) bool { return slices.Equal(g.flags, flags) && slices.Equal(g.env, env) })
		if i < 0 {
			groups = append(groups, &group{flags: flags, env: env})
			i = len(groups) - 1
		}
		groups[i].ips = append(groups[i].ips, ip)
	}
	type listing struct {
		ids  map[string]string
		deps map[string][]string
		err  error
	}
	lists := map[string]*listing{} // platform + group index
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, p := range s.platforms {
		for gi, g := range groups {
			wg.Go(func() {
				ids, deps, err := buildIDs(ctx, s.dir, p, g.flags, g.env, g.ips)
				if err != nil {
					s.logf("warming the build cache for %s: %v", p, err)
				}
				mu.Lock()
				lists[fmt.Sprint(p, gi)] = &listing{ids, deps, err}
				mu.Unlock()
			})
		}
	}
	// Meanwhile: the bases and the VCS state, which the skip cache also needs.
	var vcs, goenv string
	var goenvErr error
	if !s.o.NoSkip {
		wg.Go(func() {
			goenv, goenvErr = linkEnv(ctx, s.dir)
			if !slices.Contains(strings.Fields(goenv), "-buildvcs=false") {
				vcs = gitState(ctx, s.dir)
			} else {
				vcs = "off"
			}
		})
		for _, ip := range ips {
			wg.Go(func() { _, _, _ = s.base(ctx, ip) })
		}
	}
	wg.Wait()
	if s.o.NoSkip || goenvErr != nil {
		return keys
	}

	plats := slices.Clone(s.platforms)
	sort.Slice(plats, func(i, j int) bool { return plats[i].String() < plats[j].String() })
	for gi, g := range groups {
		for _, ip := range g.ips {
			env, flags, ldflags := s.config(ip)
			if templated(env, flags, ldflags) {
				continue // {{.Date}}, {{.Env.X}}, {{.Git.*}}: not worth guessing
			}
			e := s.baseFor(ctx, ip)
			if e.err != nil {
				continue // the build reports it
			}
			h := sha256.New()
			fmt.Fprintf(h, "kf-run skip v1\nko %s\nimport %s\nbase %s %s\n", KoVersion, ip, e.ref, e.dig)
			fmt.Fprintf(h, "trimpath true\nsbom %t %s\ncreated %d %d\n", s.o.SBOM, s.o.UserAgent, s.o.CreationTime.Unix(), s.o.KoDataCreationTime.Unix())
			fmt.Fprintf(h, "env %q\nflags %q\nldflags %q\nvcs %s\ngo env %q\n", env, flags, ldflags, vcs, goenv)
			ok := true
			for _, p := range plats {
				l := lists[fmt.Sprint(p, gi)]
				deps, has := l.deps[ip]
				if !has || l.ids[ip] == "" {
					ok = false
					break
				}
				fmt.Fprintf(h, "platform %s\n%s %s\n", p, ip, l.ids[ip])
				for _, d := range deps {
					// unsafe has no compiled form, so no BuildID.
					fmt.Fprintf(h, "%s %s\n", d, l.ids[d])
				}
			}
			if !ok || !s.hashKodata(h, ip) {
				continue
			}
			keys[ip] = hex.EncodeToString(h.Sum(nil))
		}
	}
	return keys
}

func templated(lists ...[]string) bool {
	for _, l := range lists {
		for _, v := range l {
			if strings.Contains(v, "{{") {
				return true
			}
		}
	}
	return false
}

// hashKodata adds the package's kodata directory (which ko copies into the
// image) to h: names, modes and contents, symlinks followed as ko does.
func (s *session) hashKodata(h hash.Hash, ip string) bool {
	dir, ok := s.pkgDirs[ip]
	if !ok {
		return false
	}
	root := filepath.Join(dir, "kodata")
	if _, err := os.Stat(root); os.IsNotExist(err) {
		fmt.Fprintf(h, "kodata none\n")
		return true
	}
	// filepath.Walk does not enter a symlinked directory; ko copies what is
	// behind it, so the key must see it too.
	var walk func(dir, rel string, depth int) error
	walk = func(dir, rel string, depth int) error {
		if depth > 40 {
			return fmt.Errorf("kodata: symlinks nest too deep at %s", rel)
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, e := range entries {
			p, r := filepath.Join(dir, e.Name()), path.Join(rel, e.Name())
			st, err := os.Stat(p) // follow symlinks
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "kodata %q %v %d\n", r, st.Mode(), st.Size())
			switch {
			case st.IsDir():
				if err := walk(p, r, depth+1); err != nil {
					return err
				}
			case st.Mode().IsRegular():
				if err := hashFile(h, p); err != nil {
					return err
				}
			}
		}
		return nil
	}
	err := walk(root, ".", 0)
	return err == nil
}

// lookup finds the image pushed for key, with one manifest HEAD.
func (s *session) lookup(ctx context.Context, repo, key string) (v1.Hash, bool) {
	tag, err := name.NewTag(repo+":"+skipTag(key), s.nopt...)
	if err != nil {
		return v1.Hash{}, false
	}
	desc, err := remote.Head(tag, append(s.ropt, remote.WithContext(ctx))...)
	if err != nil {
		return v1.Hash{}, false
	}
	return desc.Digest, true
}

// retag points the configured tags at d where they point elsewhere (a new
// commit's SHA tag): a manifest PUT per tag, no blobs.
func (s *session) retag(ctx context.Context, repo string, d v1.Hash) error {
	opts := append(s.ropt, remote.WithContext(ctx))
	var desc *remote.Descriptor
	for _, t := range s.tags {
		tag, err := name.NewTag(repo+":"+t, s.nopt...)
		if err != nil {
			return err
		}
		if cur, err := remote.Head(tag, opts...); err == nil && cur.Digest == d {
			continue
		}
		if desc == nil {
			if desc, err = remote.Get(tag.Context().Digest(d.String()), opts...); err != nil {
				return s.kc.explain(err, "")
			}
		}
		s.logf("tagging %s", tag)
		if err := remote.Tag(tag, desc, opts...); err != nil {
			return s.kc.explain(fmt.Errorf("tag %s: %w", tag, err), "")
		}
	}
	return nil
}

func hashFile(h hash.Hash, p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(h, f)
	return err
}
