package main

import (
	"runtime"
	"runtime/debug"
	"testing"
)

func TestFormatVersion(t *testing.T) {
	t.Parallel()
	platform := " " + runtime.GOOS + "/" + runtime.GOARCH + ")"
	vcs := func(rev, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}
	}
	tests := []struct {
		name    string
		stamped string
		info    *debug.BuildInfo
		ok      bool
		want    string
	}{
		{
			name:    "release build: the stamp wins over build info",
			stamped: "v1.2.3",
			info:    &debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "(devel)"}},
			ok:      true,
			want:    "kf-run v1.2.3 (go1.26.1" + platform,
		},
		{
			name:    "go install module@version",
			stamped: "dev",
			info:    &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Path: "github.com/kf-run/kf-run", Version: "v1.4.0"}},
			ok:      true,
			want:    "kf-run v1.4.0 (go1.26.0" + platform,
		},
		{
			name:    "go build in a checkout: the pseudo-version go derives",
			stamped: "dev",
			info: &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "v1.4.1-0.20261130210401-480d7fd0a1b2+dirty"},
				Settings: vcs("480d7fd0a1b2c3d4e5f6", "true")},
			ok:   true,
			want: "kf-run v1.4.1-0.20261130210401-480d7fd0a1b2+dirty (go1.26.0" + platform,
		},
		{
			name:    "devel module with a clean revision",
			stamped: "dev",
			info:    &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"}, Settings: vcs("480d7fd0a1b2c3d4e5f6", "false")},
			ok:      true,
			want:    "kf-run dev-480d7fd0a1b2 (go1.26.0" + platform,
		},
		{
			name:    "devel module with a modified tree",
			stamped: "dev",
			info:    &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"}, Settings: vcs("480d7fd0a1b2c3d4e5f6", "true")},
			ok:      true,
			want:    "kf-run dev-480d7fd0a1b2-dirty (go1.26.0" + platform,
		},
		{
			name:    "no VCS data (-buildvcs=false or no checkout)",
			stamped: "dev",
			info:    &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"}},
			ok:      true,
			want:    "kf-run dev (go1.26.0" + platform,
		},
		{
			name:    "empty stamp counts as none",
			stamped: "",
			info:    &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "v1.4.0"}},
			ok:      true,
			want:    "kf-run v1.4.0 (go1.26.0" + platform,
		},
		{
			name:    "no build info at all",
			stamped: "dev",
			want:    "kf-run dev (" + runtime.Version() + platform,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := formatVersion(tt.stamped, tt.info, tt.ok); got != tt.want {
				t.Errorf("formatVersion() = %q, want %q", got, tt.want)
			}
		})
	}
}
