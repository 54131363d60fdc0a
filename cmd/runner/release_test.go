package main

// The release is configuration, not code: these tests read the Dockerfile,
// .goreleaser.yaml and the release workflow at the repository root and check
// the properties the Action, the GitLab component and users rely on (see
// the comments in those files for why each one matters).

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"text/template"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
)

const repoRoot = "../.."

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	line int
	cmd  string // upper case: FROM, RUN, ...
	args string
}

func parseDockerfile(t *testing.T, path string) []instruction {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open the Dockerfile: %v", err)
	}
	defer f.Close()
	var (
		out     []instruction
		cur     strings.Builder
		start   int
		lineNum int
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lineNum++
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || (line == "" && cur.Len() == 0) {
			continue
		}
		if cur.Len() == 0 {
			start = lineNum
		}
		cont := strings.HasSuffix(line, `\`)
		cur.WriteString(strings.TrimSuffix(line, `\`))
		if cont {
			cur.WriteString(" ")
			continue
		}
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{line: start, cmd: strings.ToUpper(cmd), args: strings.Join(strings.Fields(args), " ")})
		cur.Reset()
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read the Dockerfile: %v", err)
	}
	if cur.Len() > 0 {
		t.Fatalf("Dockerfile:%d: instruction ends with a line continuation", start)
	}
	return out
}

// goreleaserConfig holds the fields of .goreleaser.yaml the tests check.
type goreleaserConfig struct {
	Version     int      `yaml:"version"`
	ProjectName string   `yaml:"project_name"`
	Env         []string `yaml:"env"`
	Snapshot    struct {
		VersionTemplate string `yaml:"version_template"`
	} `yaml:"snapshot"`
	Metadata struct {
		ModTimestamp string `yaml:"mod_timestamp"`
	} `yaml:"metadata"`
	Builds []struct {
		ID           string   `yaml:"id"`
		Main         string   `yaml:"main"`
		Binary       string   `yaml:"binary"`
		Env          []string `yaml:"env"`
		Goos         []string `yaml:"goos"`
		Goarch       []string `yaml:"goarch"`
		Flags        []string `yaml:"flags"`
		Ldflags      []string `yaml:"ldflags"`
		ModTimestamp string   `yaml:"mod_timestamp"`
	} `yaml:"builds"`
	Archives []struct {
		IDs             []string `yaml:"ids"`
		NameTemplate    string   `yaml:"name_template"`
		Formats         []string `yaml:"formats"`
		FormatOverrides []struct {
			Goos    string   `yaml:"goos"`
			Formats []string `yaml:"formats"`
		} `yaml:"format_overrides"`
		WrapInDirectory string   `yaml:"wrap_in_directory"`
		Files           []string `yaml:"files"`
		BuildsInfo      struct {
			Owner string `yaml:"owner"`
			Group string `yaml:"group"`
			Mtime string `yaml:"mtime"`
		} `yaml:"builds_info"`
	} `yaml:"archives"`
	Checksum struct {
		NameTemplate string      `yaml:"name_template"`
		Algorithm    string      `yaml:"algorithm"`
		ExtraFiles   []extraFile `yaml:"extra_files"`
	} `yaml:"checksum"`
	SBOMs []struct {
		Artifacts string `yaml:"artifacts"`
	} `yaml:"sboms"`
	Signs []struct {
		Cmd       string   `yaml:"cmd"`
		Artifacts string   `yaml:"artifacts"`
		Signature string   `yaml:"signature"`
		Args      []string `yaml:"args"`
	} `yaml:"signs"`
	DockersV2 []struct {
		IDs        []string `yaml:"ids"`
		Dockerfile string   `yaml:"dockerfile"`
		Images     []string `yaml:"images"`
		Tags       []string `yaml:"tags"`
		Platforms  []string `yaml:"platforms"`
	} `yaml:"dockers_v2"`
	DockerSigns []struct {
		Cmd       string   `yaml:"cmd"`
		Artifacts string   `yaml:"artifacts"`
		Args      []string `yaml:"args"`
	} `yaml:"docker_signs"`
	Release struct {
		Draft  bool `yaml:"draft"`
		GitHub struct {
			Owner string `yaml:"owner"`
			Name  string `yaml:"name"`
		} `yaml:"github"`
		ExtraFiles []extraFile `yaml:"extra_files"`
	} `yaml:"release"`
}

// extraFile is a file of the repository published as it is.
type extraFile struct {
	Glob         string `yaml:"glob"`
	NameTemplate string `yaml:"name_template"`
}

func loadGoreleaser(t *testing.T) goreleaserConfig {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, ".goreleaser.yaml"))
	if err != nil {
		t.Fatalf("read .goreleaser.yaml: %v", err)
	}
	var c goreleaserConfig
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("parse .goreleaser.yaml: %v", err)
	}
	return c
}

// render evaluates a goreleaser template with the given fields; a template
// that uses anything else (a field or function not given) is an error.
func render(t *testing.T, tmpl string, data map[string]any) string {
	t.Helper()
	tp, err := template.New("").Option("missingkey=error").Parse(tmpl)
	if err != nil {
		t.Fatalf("parse template %q: %v", tmpl, err)
	}
	var b strings.Builder
	if err := tp.Execute(&b, data); err != nil {
		t.Fatalf("render template %q with %v: %v", tmpl, data, err)
	}
	return b.String()
}

func TestDockerfile(t *testing.T) {
	t.Parallel()
	insts := parseDockerfile(t, filepath.Join(repoRoot, "Dockerfile"))
	binary := "kf-run"
	if c := loadGoreleaser(t); len(c.Builds) == 1 {
		binary = c.Builds[0].Binary
	}

	var froms, users, entrypoints []instruction
	env := map[string]string{}
	var argTargetPlatform, copied, trustsAll bool
	for _, in := range insts {
		switch in.cmd {
		case "FROM":
			froms = append(froms, in)
		case "USER":
			users = append(users, in)
		case "ENTRYPOINT":
			entrypoints = append(entrypoints, in)
		case "ARG":
			if in.args == "TARGETPLATFORM" {
				argTargetPlatform = true
			}
		case "ENV":
			for _, kv := range strings.Fields(in.args) {
				if k, v, ok := strings.Cut(kv, "="); ok {
					env[k] = strings.Trim(v, `"`)
				}
			}
		case "RUN":
			// The image holds the released bytes: nothing is compiled in it.
			if regexp.MustCompile(`\bgo (build|install)\b`).MatchString(in.args) {
				t.Errorf("Dockerfile:%d: RUN builds Go code; goreleaser's binaries must be copied instead", in.line)
			}
			if strings.Contains(in.args, `git config --system --add safe.directory '*'`) {
				trustsAll = true
			}
		case "COPY":
			f := strings.Fields(in.args)
			if len(f) >= 2 && f[len(f)-2] == "$TARGETPLATFORM/"+binary && f[len(f)-1] == "/usr/local/bin/kf-run" {
				if !argTargetPlatform {
					t.Errorf("Dockerfile:%d: COPY uses $TARGETPLATFORM before ARG TARGETPLATFORM", in.line)
				}
				copied = true
			}
		}
	}

	// One stage on an official Debian golang image: sh, git, CA certificates
	// and the Go toolchain for ko:// builds.
	if len(froms) != 1 {
		t.Fatalf("Dockerfile has %d FROM lines, want 1 (goreleaser builds the binary; no build stage)", len(froms))
	}
	if !regexp.MustCompile(`^golang:1\.[0-9]+(\.[0-9]+)?-(bookworm|trixie|forky)$`).MatchString(froms[0].args) {
		t.Errorf("Dockerfile:%d: FROM %s, want golang:1.N-<debian release> (a shell, git, CA certificates and Go)", froms[0].line, froms[0].args)
	}
	if got := env["GOTOOLCHAIN"]; got != "auto" {
		t.Errorf("Dockerfile: GOTOOLCHAIN=%q, want auto (the golang image sets local; the user's go.mod must pick the Go)", got)
	}
	if !trustsAll {
		t.Errorf("Dockerfile: no RUN git config --system --add safe.directory '*' (checkouts owned by another uid)")
	}
	if !copied {
		t.Errorf("Dockerfile: no COPY $TARGETPLATFORM/%s /usr/local/bin/kf-run (goreleaser's dockers_v2 context)", binary)
	}
	if len(users) == 0 {
		t.Errorf("Dockerfile: no USER; the image must run as non-root")
	} else if u, _, _ := strings.Cut(users[len(users)-1].args, ":"); u == "root" || u == "0" {
		t.Errorf("Dockerfile:%d: USER %s is root", users[len(users)-1].line, users[len(users)-1].args)
	}
	if len(entrypoints) != 1 {
		t.Fatalf("Dockerfile has %d ENTRYPOINT lines, want 1", len(entrypoints))
	}
	var ep []string
	if err := json.Unmarshal([]byte(entrypoints[0].args), &ep); err != nil {
		t.Errorf("Dockerfile:%d: ENTRYPOINT %s is not exec form (signals must reach kf-run): %v", entrypoints[0].line, entrypoints[0].args, err)
	} else if diff := cmp.Diff([]string{"/usr/local/bin/kf-run"}, ep); diff != "" {
		t.Errorf("Dockerfile:%d: ENTRYPOINT (-want +got):\n%s", entrypoints[0].line, diff)
	}
}

func TestGoreleaserBuilds(t *testing.T) {
	t.Parallel()
	c := loadGoreleaser(t)
	if c.Version != 2 {
		t.Errorf("version: %d, want 2 (goreleaser v2 config)", c.Version)
	}
	if len(c.Builds) != 1 {
		t.Fatalf("%d builds, want 1", len(c.Builds))
	}
	b := c.Builds[0]
	if b.Main != "./cmd/runner" || b.Binary != "kf-run" {
		t.Errorf("build main %q binary %q, want ./cmd/runner and kf-run", b.Main, b.Binary)
	}
	if !slices.Contains(append(slices.Clone(c.Env), b.Env...), "CGO_ENABLED=0") {
		t.Errorf("CGO_ENABLED=0 is not set: the binaries must be static")
	}
	slices.Sort(b.Goos)
	slices.Sort(b.Goarch)
	if diff := cmp.Diff([]string{"darwin", "linux", "windows"}, b.Goos); diff != "" {
		t.Errorf("goos (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"amd64", "arm64"}, b.Goarch); diff != "" {
		t.Errorf("goarch (-want +got):\n%s", diff)
	}
	// Reproducible: the tagged commit is not the commit the pinned sums were
	// built from, so neither its path, hash nor time may reach the bytes.
	for _, f := range []string{"-trimpath", "-buildvcs=false"} {
		if !slices.Contains(b.Flags, f) {
			t.Errorf("build flags %v lack %s", b.Flags, f)
		}
	}
	if b.ModTimestamp != "{{ .CommitTimestamp }}" || c.Metadata.ModTimestamp != "{{ .CommitTimestamp }}" {
		t.Errorf("mod_timestamp (build %q, metadata %q), want {{ .CommitTimestamp }}", b.ModTimestamp, c.Metadata.ModTimestamp)
	}
	ld := render(t, strings.Join(b.Ldflags, " "), map[string]any{"Version": "1.2.3"})
	for _, want := range []string{"-s -w", "-X main.version=v1.2.3"} {
		if !strings.Contains(ld, want) {
			t.Errorf("ldflags %q lack %q", ld, want)
		}
	}
	if strings.Contains(strings.Join(b.Ldflags, " "), "Commit") {
		t.Errorf("ldflags %q stamp the commit; the tagged commit differs from the built one", b.Ldflags)
	}

	// The snapshot version is a semver the Action's install test can use.
	v := render(t, c.Snapshot.VersionTemplate, map[string]any{"ShortCommit": "480d7fd"})
	if !regexp.MustCompile(`^0\.0\.0-SNAPSHOT-480d7fd$`).MatchString(v) {
		t.Errorf("snapshot version %q, want 0.0.0-SNAPSHOT-<short commit>", v)
	}
}

func TestGoreleaserArchives(t *testing.T) {
	t.Parallel()
	c := loadGoreleaser(t)
	if len(c.Archives) != 1 {
		t.Fatalf("%d archives, want 1", len(c.Archives))
	}
	a := c.Archives[0]
	var got []string
	for _, goos := range []string{"linux", "darwin", "windows"} {
		for _, goarch := range []string{"amd64", "arm64"} {
			formats := a.Formats
			for _, o := range a.FormatOverrides {
				if o.Goos == goos {
					formats = o.Formats
				}
			}
			for _, f := range formats {
				got = append(got, render(t, a.NameTemplate, map[string]any{"ProjectName": c.ProjectName, "Version": "1.2.3", "Os": goos, "Arch": goarch})+"."+f)
			}
		}
	}
	// The names the Action's install script downloads (contract).
	want := []string{
		"kf-run_1.2.3_linux_amd64.tar.gz", "kf-run_1.2.3_linux_arm64.tar.gz",
		"kf-run_1.2.3_darwin_amd64.tar.gz", "kf-run_1.2.3_darwin_arm64.tar.gz",
		"kf-run_1.2.3_windows_amd64.zip", "kf-run_1.2.3_windows_arm64.zip",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("archive names (-want +got):\n%s", diff)
	}
	if a.WrapInDirectory != "" && a.WrapInDirectory != "false" {
		t.Errorf("wrap_in_directory %q: the binary must sit at the archive's root", a.WrapInDirectory)
	}
	if diff := cmp.Diff([]string{"none*"}, a.Files); diff != "" {
		t.Errorf("archive files (-want +got), the binary alone (no file times from the checkout):\n%s", diff)
	}
	if a.BuildsInfo.Mtime != "{{ .CommitDate }}" || a.BuildsInfo.Owner != "root" || a.BuildsInfo.Group != "root" {
		t.Errorf("builds_info %+v, want root:root and mtime {{ .CommitDate }} (reproducible archives)", a.BuildsInfo)
	}
	if c.Checksum.NameTemplate != "checksums.txt" || (c.Checksum.Algorithm != "" && c.Checksum.Algorithm != "sha256") {
		t.Errorf("checksum %+v, want checksums.txt with sha256", c.Checksum)
	}
	if !slices.ContainsFunc(c.SBOMs, func(s struct {
		Artifacts string `yaml:"artifacts"`
	}) bool {
		return s.Artifacts == "archive"
	}) {
		t.Errorf("sboms %+v: no SBOM for the archives", c.SBOMs)
	}
	signed := false
	for _, s := range c.Signs {
		if s.Cmd == "cosign" && s.Artifacts == "checksum" && slices.Contains(s.Args, "sign-blob") && slices.Contains(s.Args, "--bundle=${signature}") {
			signed = true
		}
	}
	if !signed {
		t.Errorf("signs %+v: checksums.txt is not signed with cosign sign-blob --bundle", c.Signs)
	}
	if !c.Release.Draft {
		t.Errorf("release.draft is false: the workflow publishes only after checking the pinned sums")
	}
}

func TestGoreleaserImage(t *testing.T) {
	t.Parallel()
	c := loadGoreleaser(t)
	if len(c.DockersV2) != 1 {
		t.Fatalf("%d dockers_v2 images, want 1", len(c.DockersV2))
	}
	d := c.DockersV2[0]
	if d.Dockerfile != "" && d.Dockerfile != "Dockerfile" {
		t.Errorf("dockers_v2 dockerfile %q, want the root Dockerfile (checked by TestDockerfile)", d.Dockerfile)
	}
	if diff := cmp.Diff([]string{"ghcr.io/kf-run/kf-run"}, d.Images); diff != "" {
		t.Errorf("images (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"linux/amd64", "linux/arm64"}, d.Platforms); diff != "" {
		t.Errorf("platforms (-want +got):\n%s", diff)
	}
	if len(c.Builds) == 1 && !slices.Contains(d.IDs, c.Builds[0].ID) {
		t.Errorf("dockers_v2 ids %v do not include the build %q", d.IDs, c.Builds[0].ID)
	}
	tags := func(version string, major int, pre string) []string {
		var out []string
		for _, tag := range d.Tags {
			if s := render(t, tag, map[string]any{"Version": version, "Major": major, "Prerelease": pre}); s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	if diff := cmp.Diff([]string{"1.2.3", "v1", "latest"}, tags("1.2.3", 1, "")); diff != "" {
		t.Errorf("release image tags (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"2.0.0-rc.1"}, tags("2.0.0-rc.1", 2, "rc.1")); diff != "" {
		t.Errorf("pre-release image tags (-want +got), v2 and latest must not move:\n%s", diff)
	}
	signed := false
	for _, s := range c.DockerSigns {
		if s.Cmd == "cosign" && slices.Contains(s.Args, "sign") && slices.Contains(s.Args, "${artifact}@${digest}") {
			signed = true
		}
	}
	if !signed {
		t.Errorf("docker_signs %+v: the image is not signed by digest with cosign", c.DockerSigns)
	}
}

// workflow holds the parts of a GitHub workflow the release test checks.
type workflow struct {
	Permissions yaml.Node         `yaml:"permissions"`
	Env         map[string]string `yaml:"env"`
	Jobs        map[string]struct {
		Permissions map[string]string `yaml:"permissions"`
		Steps       []struct {
			Name string            `yaml:"name"`
			Uses string            `yaml:"uses"`
			Run  string            `yaml:"run"`
			With map[string]string `yaml:"with"`
		} `yaml:"steps"`
	} `yaml:"jobs"`
}

func TestReleaseWorkflow(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join(repoRoot, ".github/workflows/release.yml"))
	if err != nil {
		t.Fatalf("read the release workflow: %v", err)
	}
	var w workflow
	if err := yaml.Unmarshal(b, &w); err != nil {
		t.Fatalf("parse the release workflow: %v", err)
	}
	// Least privilege: nothing at the top, write access per job.
	if w.Permissions.Kind != yaml.MappingNode || len(w.Permissions.Content) != 0 {
		t.Errorf("top-level permissions must be {} (each job asks for its own)")
	}
	pinned := regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(/[A-Za-z0-9_./-]+)?@[0-9a-f]{40}$`)
	var steps []string
	for name, job := range w.Jobs {
		if len(job.Permissions) == 0 {
			t.Errorf("job %s: no permissions block", name)
		}
		for _, s := range job.Steps {
			if s.Uses != "" && !pinned.MatchString(s.Uses) {
				t.Errorf("job %s: %s is not pinned by a full commit SHA", name, s.Uses)
			}
			if strings.Contains(s.Run, "${{") {
				t.Errorf("job %s, step %q: ${{ }} inside run: (pass it through env:)", name, s.Name)
			}
			if name == "publish" {
				steps = append(steps, s.Uses+s.Run)
			}
		}
	}

	// The workflow runs the goreleaser that `make snapshot` runs.
	script, err := os.ReadFile(filepath.Join(repoRoot, "scripts/snapshot.sh"))
	if err != nil {
		t.Fatalf("read scripts/snapshot.sh: %v", err)
	}
	m := regexp.MustCompile(`github\.com/goreleaser/goreleaser/v2@(v[0-9.]+)`).FindSubmatch(script)
	if m == nil {
		t.Fatalf("scripts/snapshot.sh pins no goreleaser version")
	}
	if got := w.Env["GORELEASER_VERSION"]; got != string(m[1]) {
		t.Errorf("release workflow runs goreleaser %q, make snapshot %s", got, m[1])
	}

	// In the publish job, the sums are checked before the tag is pushed and
	// before the draft is published, and v<major> moves last.
	order := []string{"sha256sum --check", `git push origin "refs/tags/v$VERSION"`, "goreleaser/goreleaser-action", "sha256sum --check", "gh release edit", "git push --force"}
	i := 0
	for _, s := range steps {
		if i < len(order) && strings.Contains(s, order[i]) {
			i++
		}
	}
	if i != len(order) {
		t.Errorf("release steps are out of order: %q not found after %q", order[i], fmt.Sprint(order[:i]))
	}
}

// kf-run.yaml's JSON Schema (schema/kf-run.schema.json; internal/config
// tests hold it to the loader) is a release file, listed in the signed
// checksums.txt, and every config that names it with a yaml-language-server
// modeline names the URL it is published at: the schema's $id.
func TestReleaseSchema(t *testing.T) {
	t.Parallel()
	c := loadGoreleaser(t)
	const file = "schema/kf-run.schema.json"
	published := func(what string, files []extraFile) string {
		t.Helper()
		for _, f := range files {
			m, err := filepath.Glob(filepath.Join(repoRoot, f.Glob))
			if err != nil {
				t.Fatalf("%s extra_files glob %q: %v", what, f.Glob, err)
			}
			if len(m) != 1 || filepath.ToSlash(m[0]) != filepath.ToSlash(filepath.Join(repoRoot, file)) {
				continue
			}
			if f.NameTemplate == "" {
				return filepath.Base(file)
			}
			return render(t, f.NameTemplate, map[string]any{})
		}
		t.Errorf("%s extra_files %+v do not publish %s", what, files, file)
		return ""
	}
	name := published("release", c.Release.ExtraFiles)
	if got := published("checksum", c.Checksum.ExtraFiles); got != name {
		t.Errorf("checksums.txt lists the schema as %q, the release publishes it as %q", got, name)
	}
	if c.Release.GitHub.Owner == "" || c.Release.GitHub.Name == "" {
		t.Fatalf("release.github %+v: no repository to publish in", c.Release.GitHub)
	}
	// "latest" is the newest release that is neither a draft nor a
	// pre-release: the workflow publishes the draft only once it is checked.
	url := fmt.Sprintf("https://github.com/%s/%s/releases/latest/download/%s", c.Release.GitHub.Owner, c.Release.GitHub.Name, name)

	b, err := os.ReadFile(filepath.Join(repoRoot, file))
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		ID string `json:"$id"`
	}
	if err := json.Unmarshal(b, &schema); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if schema.ID != url {
		t.Errorf("%s: $id %q, want %q, where the release publishes it", file, schema.ID, url)
	}

	// The example configs start with the modeline (it must be a comment
	// before the first key), and every modeline in them or in the README
	// names the published URL.
	modeline := "# yaml-language-server: $schema=" + url
	anyModeline := regexp.MustCompile(`yaml-language-server: \$schema=(\S+)`)
	examples, err := filepath.Glob(filepath.Join(repoRoot, "examples", "*", "kf-run.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	examples = append(examples, filepath.Join(repoRoot, "examples", "kf-run.yaml"))
	found := 0
	for _, f := range append(examples, filepath.Join(repoRoot, "README.md")) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if first, _, _ := strings.Cut(string(b), "\n"); first != modeline && !strings.HasSuffix(f, "README.md") {
			t.Errorf("%s: first line %q, want %q", f, first, modeline)
		}
		for _, m := range anyModeline.FindAllSubmatch(b, -1) {
			found++
			if string(m[1]) != url {
				t.Errorf("%s: a modeline names %s, want %s", f, m[1], url)
			}
		}
	}
	if found <= len(examples) {
		t.Errorf("%d modelines in %d example configs and README.md: the README's config example needs %q", found, len(examples), modeline)
	}
}
