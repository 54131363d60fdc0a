package console

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kf-run/kf-run/internal/ci"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// fixed makes a Console with a fixed clock and a counting token source.
func fixed(w *bytes.Buffer, p ci.Provider, terminal bool) *Console {
	c := New(w, p, terminal)
	c.now = func() time.Time { return time.Unix(1764200000, 0) }
	n := 0
	c.token = func() string { n++; return fmt.Sprintf("tok%02d", n) }
	return c
}

// script exercises every method the way the stages use them.
func script(c *Console) {
	c.Mask("s3cr3t-token", "line-one\nline-two", "", "   ")
	end := c.Group("Submit train")
	c.Printf("experiment %q ready", "ci")
	c.Printf("token is s3cr3t-token") // no trailing newline in the format
	c.Printf("two\nlines\n")
	c.Printf("  ::add-mask::from-a-message")
	c.Printf("legacy ##[error]still a command")
	c.Printf("\u3000::warning::ideographic space is trimmed by the runner")
	end()
	end() // a stale end is a no-op
	first := c.Group("first")
	second := c.Group("second, which closes first")
	first() // must not close "second"
	c.Printf("inside second")
	c.Untrusted("title ##[error]x", []string{"in a group: header fenced"})
	c.Untrusted("trainer log tail", []string{
		"epoch 1",
		"::error::pwned",
		"::stop-commands::guess",
		"\x1b[31mred\x1b[0m and a bell\a",
		"key: line-one",
		"multi\nline",
	})
	second()
	c.Errorf("train FAILED", "run: %s\nsee https://kfp.example/#/runs/details/1, 100%% sure", "FAILED")
	c.Warningf("", "token s3cr3t-token lacks pull-requests: write")
	c.Noticef("PR comment", "skipped: fork")
	c.Untrusted("outside a group", []string{"::warning::no"})
	c.Status("running 1/3")
	c.Printf("task prep: SUCCEEDED")
	c.Status("running 2/3")
	c.Status("")
}

func TestConsoleGolden(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		provider ci.Provider
		terminal bool
	}{
		{"github", ci.GitHub, false},
		{"gitlab", ci.GitLab, false},
		{"local", ci.Local, false},
		{"terminal", ci.Local, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			script(fixed(&buf, tt.provider, tt.terminal))
			golden(t, filepath.Join("testdata", tt.name+".golden"), buf.String())
			if strings.Contains(buf.String(), "s3cr3t") && tt.provider != ci.GitHub {
				t.Errorf("secret printed:\n%s", buf.String())
			}
		})
	}
}

// TestMaskNeverPrinted checks that after Mask no method prints the value,
// except the ::add-mask:: command itself.
func TestMaskNeverPrinted(t *testing.T) {
	t.Parallel()
	for _, p := range []ci.Provider{ci.GitHub, ci.GitLab, ci.Local} {
		t.Run(string(p), func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			c := New(&buf, p, true)
			secret := "hunter2-very-secret"
			c.Mask(secret, "multi\nline secret")
			c.Group("g " + secret)()
			c.Printf("%s", secret)
			c.Printf("json %q", secret+"\n")
			c.Errorf(secret, "%s", secret)
			c.Warningf("w", "%s", "multi\nline secret")
			c.Untrusted(secret, []string{secret, "x" + secret + "y", "line secret"})
			c.Status(secret)
			for _, l := range strings.Split(buf.String(), "\n") {
				if strings.HasPrefix(l, "::add-mask::") {
					continue
				}
				if strings.Contains(l, secret) || strings.Contains(l, "line secret") {
					t.Errorf("secret in line %q", l)
				}
			}
			if p == ci.GitHub && !strings.Contains(buf.String(), "::add-mask::multi%0Aline secret\n") {
				t.Errorf("multi-line mask not escaped:\n%s", buf.String())
			}
		})
	}
}

func TestEscape(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, data, prop string
	}{
		{"plain", "abc", "abc", "abc"},
		{"percent first", "100%0A", "100%250A", "100%250A"},
		{"newlines", "a\r\nb", "a%0D%0Ab", "a%0D%0Ab"},
		{"property separators", "a:b,c", "a:b,c", "a%3Ab%2Cc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.data, escapeData(tt.in)); diff != "" {
				t.Errorf("escapeData (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.prop, escapeProperty(tt.in)); diff != "" {
				t.Errorf("escapeProperty (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAnnotationLimit(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	c := New(&buf, ci.GitHub, false)
	for i := range 12 {
		c.Errorf("", "e%d", i)
	}
	got := strings.Count(buf.String(), "::error::")
	if got != maxAnnotations {
		t.Errorf("error annotations = %d, want %d", got, maxAnnotations)
	}
	if !strings.Contains(buf.String(), "error: e11\n") {
		t.Errorf("annotation over the limit not printed as a line:\n%s", buf.String())
	}
}

func TestRedactor(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		values []string
		in     string
		want   string
	}{
		{"longest first", []string{"abc", "abcdef"}, "x abcdef y", "x *** y"},
		{"lines of a multi-line value", []string{"l1-secret\n  l2-secret  "}, "l2-secret", "***"},
		{"json form", []string{`pa"ss`}, `{"p":"pa\"ss"}`, `{"p":"***"}`},
		{"url form", []string{"a b&c"}, "q=a+b%26c", "q=***"},
		{"blank ignored", []string{"", " "}, "a b", "a b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, Redactor(tt.values...).Replace(tt.in)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestConcurrent(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	c := New(&buf, ci.GitHub, true)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			c.Mask(fmt.Sprintf("secret-%d", i))
			end := c.Group(fmt.Sprintf("g%d", i))
			c.Printf("line %d secret-%d", i, i)
			c.Untrusted("u", []string{"x"})
			c.Status("s")
			end()
		})
	}
	wg.Wait()
	for _, l := range strings.Split(buf.String(), "\n") {
		// A terminal line may start with a status line that was cleared.
		if i := strings.LastIndex(l, "\x1b[2K"); i >= 0 {
			l = l[i+len("\x1b[2K"):]
		}
		if !strings.HasPrefix(l, "::add-mask::") && strings.Contains(l, "secret-") {
			t.Errorf("unmasked line %q", l)
		}
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteError(t *testing.T) {
	t.Parallel()
	c := New(failWriter{}, ci.Local, false)
	c.Printf("x")
	if c.Err() == nil {
		t.Error("Err() = nil after a failed write")
	}
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

// One length rule for every sink: the console, the redactor for reports,
// and config error text mask the same values.
func TestMaskLengthRule(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	c := New(&b, ci.Local, false)
	c.Mask("ml", "abcd")
	c.Printf("ghcr.io/acme/ml abcd")
	if got, want := b.String(), "ghcr.io/acme/ml ***\n"; got != want {
		t.Errorf("console = %q, want %q", got, want)
	}
	if got := Redactor("ml", "abcd").Replace("ghcr.io/acme/ml abcd"); got != "ghcr.io/acme/ml ***" {
		t.Errorf("redactor = %q", got)
	}
	for name, want := range map[string]bool{"KFP_TOKEN": true, "Authorization": true, "X-Api-Key": true,
		"oauth2_proxy_kubeflow": true, "authservice_session": true, "X-Team": false, "lang": false} {
		if SecretName(name) != want {
			t.Errorf("SecretName(%q) = %v, want %v", name, !want, want)
		}
	}
}

func TestSafeName(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"train-demo.v1_x": "train-demo.v1_x",
		"a b/c:d":         "a_b_c_d",
		"日本 <!--x-->":     "_____--x--_",
	} {
		if got := SafeName(in); got != want {
			t.Errorf("SafeName(%q) = %q, want %q", in, got, want)
		}
	}
}
