package kfp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// listAll reads pages until an empty or repeated token, sends the first
// page's query with the token (less its first-only keys), and gives up
// with the route and the page count when the server never stops.
func TestListAll(t *testing.T) {
	t.Parallel()
	// Each case's server answers a page for the page_token it is sent.
	for _, tt := range []struct {
		name   string
		answer func(token string) (status int, body string)
		stopAt string // the consumer stops after this item
		want   []string
		tokens []string // the page_token of each request, in order
		err    string   // the error yielded last, if any
	}{
		{
			name: "several pages",
			answer: pages(map[string]string{
				"":   `{"items":["a","b"],"total_size":4,"next_page_token":"t1"}`,
				"t1": `{"items":["c"],"next_page_token":"t2"}`,
				"t2": `{"items":["d"]}`,
			}),
			want:   []string{"a", "b", "c", "d"},
			tokens: []string{"", "t1", "t2"},
		},
		{
			name: "empty token",
			answer: pages(map[string]string{
				"": `{"items":["a"],"next_page_token":""}`,
			}),
			want:   []string{"a"},
			tokens: []string{""},
		},
		{
			name: "repeated token",
			answer: pages(map[string]string{
				"":   `{"items":["a"],"next_page_token":"t1"}`,
				"t1": `{"items":["b"],"next_page_token":"t1"}`,
			}),
			want:   []string{"a", "b"},
			tokens: []string{"", "t1"},
		},
		{
			// As encoding/json decodes a struct: keys in any case, null
			// items, other fields skipped.
			name: "keys in other case, null items",
			answer: pages(map[string]string{
				"":   `{"Items":["a"],"extra":{"x":[1]},"Next_Page_Token":"t1"}`,
				"t1": `{"items":null}`,
			}),
			want:   []string{"a"},
			tokens: []string{"", "t1"},
		},
		{
			name: "consumer stops",
			answer: pages(map[string]string{
				"":   `{"items":["a","b"],"next_page_token":"t1"}`,
				"t1": `{"items":["c"]}`,
			}),
			stopAt: "a",
			want:   []string{"a"},
			tokens: []string{""},
		},
		{
			name: "failed page",
			answer: func(token string) (int, string) {
				if token == "" {
					return http.StatusOK, `{"items":["a"],"next_page_token":"t1"}`
				}
				return http.StatusInternalServerError, `{"code":13,"message":"boom"}`
			},
			want:   []string{"a"},
			tokens: []string{"", "t1"},
			err:    "ListThings: HTTP 500 (grpc 13): boom",
		},
		{
			name: "bound",
			answer: func(token string) (int, string) {
				return http.StatusOK, `{"items":["x"],"next_page_token":"` + token + `+"}`
			},
			want:   strings.Split(strings.Repeat("x", maxPages), ""),
			tokens: endlessTokens(maxPages),
			err:    fmt.Sprintf("ListThings: GET /apis/v2beta1/things: still paging after %d pages", maxPages),
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var seen []url.Values
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				q := r.URL.Query()
				mu.Lock()
				seen = append(seen, q)
				mu.Unlock()
				if r.URL.Path != "/apis/v2beta1/things" {
					t.Errorf("request %s", r.URL)
				}
				status, body := tt.answer(q.Get("page_token"))
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(status)
				io.WriteString(w, body)
			}))
			defer srv.Close()
			c, err := New(Target{Host: srv.URL}, Options{RetryMax: -1})
			if err != nil {
				t.Fatal(err)
			}
			first := url.Values{"page_size": {"2"}, "filter": {"f"}, "sort_by": {"created_at desc"}}
			l := listing{op: "ListThings", path: "/apis/v2beta1/things", field: "items", query: first, firstOnly: []string{"filter"}}
			var got []string
			var last error
			for item, err := range listAll[string](context.Background(), c, l) {
				if last != nil {
					t.Fatalf("yielded %q, %v after the error %v", item, err, last)
				}
				if err != nil {
					last = err
					continue
				}
				got = append(got, item)
				if item == tt.stopAt {
					break
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("items (-want +got):\n%s", diff)
			}
			switch {
			case tt.err == "" && last != nil:
				t.Errorf("error %v, want none", last)
			case tt.err != "" && (last == nil || !strings.HasPrefix(last.Error(), tt.err)):
				t.Errorf("error %v, want it to start %q", last, tt.err)
			case tt.err != "":
				var ae *APIError
				if !errors.As(last, &ae) || ae.Op != "ListThings" {
					t.Errorf("error %#v, want an *APIError of ListThings", last)
				}
			}
			var tokens []string
			for i, q := range seen {
				tokens = append(tokens, q.Get("page_token"))
				// The first page's query goes on every page, but the
				// filter only on the first: the token carries it.
				want := url.Values{"page_size": {"2"}, "sort_by": {"created_at desc"}}
				if i == 0 {
					want.Set("filter", "f")
				} else {
					want.Set("page_token", q.Get("page_token"))
				}
				if diff := cmp.Diff(want, q); diff != "" {
					t.Errorf("query of page %d (-want +got):\n%s", i+1, diff)
				}
			}
			if diff := cmp.Diff(tt.tokens, tokens); diff != "" {
				t.Errorf("page tokens sent (-want +got):\n%s", diff)
			}
			// The caller's query is its own still.
			if diff := cmp.Diff(url.Values{"page_size": {"2"}, "filter": {"f"}, "sort_by": {"created_at desc"}}, first); diff != "" {
				t.Errorf("caller's query changed (-want +got):\n%s", diff)
			}
		})
	}
}

// pages answers each page_token with its page, and fails others.
func pages(byToken map[string]string) func(string) (int, string) {
	return func(token string) (int, string) {
		if b, ok := byToken[token]; ok {
			return http.StatusOK, b
		}
		return http.StatusNotFound, `{"code":5,"message":"no page ` + token + `"}`
	}
}

// endlessTokens are the first n tokens of a server that makes each page's
// token from the last one.
func endlessTokens(n int) []string {
	out := make([]string, n)
	for i := 1; i < n; i++ {
		out[i] = out[i-1] + "+"
	}
	return out
}
