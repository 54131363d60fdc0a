package kfp

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseRelease(t *testing.T) {
	t.Parallel()
	tests := []struct {
		tag  string
		want Release
		ok   bool
	}{
		{"2.0.5", Release{2, 0, 5, ""}, true},
		{"2.17.0", Release{2, 17, 0, ""}, true},
		{"v2.5.0", Release{2, 5, 0, ""}, true},
		{"2.17.0-next", Release{2, 17, 0, "next"}, true},
		{"2.0.0-rc.2", Release{2, 0, 0, "rc.2"}, true},
		{"2.14", Release{2, 14, 0, ""}, true},
		{" 2.15.1 ", Release{2, 15, 1, ""}, true},
		{"unknown", Release{}, false},
		{"", Release{}, false},
		{"dev", Release{}, false},
		{"master", Release{}, false},
		{"c5658f09ec38", Release{}, false},
		{"2", Release{}, false},
		{"2.x.0", Release{}, false},
		{"2.+1.0", Release{}, false},
		{"0.5.1", Release{}, false},
		{"2.1.2.3", Release{}, false},
		{"2.17.0-", Release{}, false},
		{"2.17.0-next\n::error::x", Release{}, false},
	}
	for _, tt := range tests {
		got, ok := ParseRelease(tt.tag)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseRelease(%q) = %+v, %t; want %+v, %t", tt.tag, got, ok, tt.want, tt.ok)
		}
	}
}

func TestServerAtLeast(t *testing.T) {
	t.Parallel()
	srv := func(tag string) Server {
		r, _ := ParseRelease(tag)
		return Server{Tag: tag, Release: r}
	}
	tests := []struct {
		tag          string
		major, minor int
		want         bool
	}{
		{"2.0.5", 2, 0, true},
		{"2.0.5", 2, 1, false},
		{"2.5.0", 2, 1, true},
		{"2.14.0", 2, 14, true},
		{"2.13.9", 2, 14, false},
		{"2.17.0-next", 2, 17, true},
		{"3.0.0", 2, 17, true},
		{"1.8.5", 2, 0, false},
		{"unknown", 2, 0, false},
		{"", 1, 0, false},
	}
	for _, tt := range tests {
		if got := srv(tt.tag).AtLeast(tt.major, tt.minor); got != tt.want {
			t.Errorf("%q.AtLeast(%d, %d) = %t, want %t", tt.tag, tt.major, tt.minor, got, tt.want)
		}
	}
	for tag, want := range map[string]string{
		"2.17.0":      "2.17.0",
		"v2.5.0":      "2.5.0",
		"2.17.0-next": "2.17.0-next",
		"2.14":        "2.14.0",
		"x\ny":        `unknown (healthz tag_name "x\ny")`,
		"unknown":     `unknown (healthz tag_name "unknown")`,
		"":            "unknown (healthz names no release)",
	} {
		if got := srv(tag).String(); got != want {
			t.Errorf("Server{Tag: %q}.String() = %q, want %q", tag, got, want)
		}
	}
	for tag, want := range map[string]string{
		"2.0.5":   "",
		"2.17.0":  "",
		"2.18.0":  "newer than the newest KFP kf-run was checked against (2.17)",
		"unknown": "kf-run does what works on every KFP from 2.0 to 2.17",
	} {
		if got := srv(tag).Caveat(); got != want {
			t.Errorf("Server{Tag: %q}.Caveat() = %q, want %q", tag, got, want)
		}
	}
}

func TestShortCommit(t *testing.T) {
	t.Parallel()
	for commit, want := range map[string]string{
		"1f2e3d4c5b6a7988": "1f2e3d4c5b6a",
		"kfp-sandbox":      "kfp-sandbox",
		"unknown":          "",
		"":                 "",
		"abc\n::error::x":  "",
	} {
		if got := (Server{Commit: commit}).ShortCommit(); got != want {
			t.Errorf("ShortCommit(%q) = %q, want %q", commit, got, want)
		}
	}
}

// healthz is hand-written JSON at every KFP version; the generated model
// knows only multi_user.
func TestServer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want Server
	}{
		{
			// KFP 2.0.5's bytes (note the spaces), as the sandbox sends them.
			name: "2.0.5",
			body: `{"commit_sha":"kfp-sandbox", "tag_name":"2.0.5", "multi_user":false}`,
			want: Server{Tag: "2.0.5", Release: Release{Major: 2, Minor: 0, Patch: 5}, Commit: "kfp-sandbox"},
		},
		{
			name: "2.17 with pipeline_store",
			body: `{"commit_sha":"1f2e3d4c","tag_name":"2.17.0","multi_user":true,"pipeline_store":"database"}`,
			want: Server{Tag: "2.17.0", Release: Release{Major: 2, Minor: 17}, Commit: "1f2e3d4c", MultiUser: true, PipelineStore: "database"},
		},
		{
			name: "an image built without a tag",
			body: `{"commit_sha":"unknown","tag_name":"unknown","multi_user":true}`,
			want: Server{Tag: "unknown", Commit: "unknown", MultiUser: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &fakeKFP{answers: map[string][]func(http.ResponseWriter, *http.Request){
				"GET /pipeline/apis/v2beta1/healthz": {jsonAnswer(200, tt.body)},
			}}
			c := newTestClient(t, f, Target{Host: "/pipeline"})
			for range 2 {
				got, err := c.Server(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("Server (-want +got):\n%s", diff)
				}
			}
			if n := f.count("GET /pipeline/apis/v2beta1/healthz"); n != 1 {
				t.Errorf("healthz read %d times, want once", n)
			}
		})
	}
}

// A failed healthz is not kept: a front that refused it before the
// credentials were fixed, or a server that was starting, is asked again.
func TestServerFailureNotKept(t *testing.T) {
	t.Parallel()
	f := &fakeKFP{answers: map[string][]func(http.ResponseWriter, *http.Request){
		"GET /apis/v2beta1/healthz": {
			func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "text/plain")
				w.WriteHeader(http.StatusUnauthorized)
				io.WriteString(w, "Jwt is missing")
			},
			jsonAnswer(200, `{"tag_name":"2.5.0","multi_user":true}`),
		},
	}}
	c := newTestClient(t, f, Target{})
	if _, err := c.Server(context.Background()); err == nil || !strings.Contains(err.Error(), "GetHealthz: HTTP 401: Jwt is missing") {
		t.Fatalf("first Server: err = %v, want the 401", err)
	}
	s, err := c.Server(context.Background())
	if err != nil || !s.AtLeast(2, 5) || !s.MultiUser {
		t.Fatalf("second Server = %+v, %v", s, err)
	}
}
