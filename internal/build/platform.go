package build

import (
	"fmt"
	"strings"
)

// platform is one os/arch[/variant] target.
type platform struct{ OS, Arch, Variant string }

func parsePlatform(s string) (platform, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return platform{}, fmt.Errorf("platform %q: want os/arch or os/arch/variant, e.g. linux/amd64", s)
	}
	p := platform{OS: parts[0], Arch: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, nil
}

func (p platform) String() string {
	if p.Variant != "" {
		return p.OS + "/" + p.Arch + "/" + p.Variant
	}
	return p.OS + "/" + p.Arch
}

// env is what ko sets for this platform before the process environment.
func (p platform) env() []string {
	env := []string{"CGO_ENABLED=0", "GOOS=" + p.OS, "GOARCH=" + p.Arch}
	switch {
	case p.Variant == "":
	case p.Arch == "arm":
		if v := strings.TrimPrefix(p.Variant, "v"); v >= "5" {
			if v > "7" {
				v = "7"
			}
			env = append(env, "GOARM="+v)
		}
	case p.Arch == "amd64":
		env = append(env, "GOAMD64="+p.Variant)
	}
	return env
}

// splitPlatforms accepts lists whose items may hold comma-separated
// platforms (KO_DEFAULTPLATFORMS=linux/amd64,linux/arm64).
func splitPlatforms(in []string) []string {
	var out []string
	for _, s := range in {
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}
