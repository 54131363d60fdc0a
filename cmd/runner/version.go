package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
)

func versionCommand() command {
	return command{
		name:  "version",
		usage: "kf-run version",
		about: "Prints the version kf-run was built as, the Go toolchain and the platform.",
		run:   versionCmd,
	}
}

// versionCmd prints the version, whatever follows it on the line.
func versionCmd(_ context.Context, _ []string, e env) int {
	fmt.Fprintln(e.stdout, versionLine(version))
	return exitOK
}

// versionLine is what `kf-run version` prints for this binary.
func versionLine(stamped string) string {
	info, ok := debug.ReadBuildInfo()
	return formatVersion(stamped, info, ok)
}

// formatVersion is what `kf-run version` prints: the release version, then the
// Go toolchain and platform the binary was built for.
//
// stamped is main.version, set by the release build with -ldflags
// "-X main.version=v1.2.3". A binary built without it (go build from source,
// the Action's fallback, go install) says what its build info knows instead:
// the module version (`go install …@v1.2.3`, or the pseudo-version go build
// derives from the checkout's tags), else the VCS revision and whether the
// tree was modified, else "dev".
func formatVersion(stamped string, info *debug.BuildInfo, ok bool) string {
	v, goVersion := stamped, runtime.Version()
	if v == "" {
		v = "dev" // -X main.version= with an empty value
	}
	if ok && info.GoVersion != "" {
		goVersion = info.GoVersion
	}
	if v == "dev" && ok {
		v = buildInfoVersion(info)
	}
	return fmt.Sprintf("kf-run %s (%s %s/%s)", v, goVersion, runtime.GOOS, runtime.GOARCH)
}

func buildInfoVersion(info *debug.BuildInfo) string {
	if mv := info.Main.Version; mv != "" && mv != "(devel)" {
		return mv
	}
	var rev string
	var modified bool
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if rev == "" {
		return "dev"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	v := "dev-" + rev
	if modified {
		v += "-dirty"
	}
	return v
}
