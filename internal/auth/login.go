package auth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/html"

	"github.com/kf-run/kf-run/internal/console"
)

// login keeps a Kubeflow session: it signs in through Dex's local-password
// form the way a browser does (follow the redirects to the form, POST login
// and password, approve, follow the redirects back) and sends the session
// cookies it was given: authservice_session (oidc-authservice, Kubeflow
// ≤1.8) or oauth2_proxy_kubeflow (oauth2-proxy, Kubeflow ≥1.9). When the
// session ends (a redirect to the login page, or 401), it signs in again,
// once per request.
type login struct {
	next     http.RoundTripper
	start    *url.URL
	host     *url.URL
	user     string
	pass     string
	onSecret func(string)

	mu      sync.Mutex
	gen     int // sessions so far
	jar     http.CookieJar
	cookies []string // names of the session cookies, for messages
}

func newLogin(host string, s Settings, base http.RoundTripper, o Options) (*login, error) {
	h, err := url.Parse(host)
	if err != nil || h.Host == "" {
		return nil, fmt.Errorf("KFP host %q is not a URL", host)
	}
	start := h
	if s.LoginURL != "" {
		if start, err = url.Parse(s.LoginURL); err != nil || start.Host == "" {
			return nil, fmt.Errorf("login_url %q is not a URL", s.LoginURL)
		}
	}
	return &login{next: base, start: start, host: h, user: s.Username, pass: s.Password, onSecret: o.OnSecret}, nil
}

func (l *login) RoundTrip(r *http.Request) (*http.Response, error) {
	gen, err := l.session(r.Context(), 0)
	if err != nil {
		return nil, err
	}
	res, err := l.send(r, false)
	if err != nil || !sessionEnded(res) || !replayable(r) {
		return res, err
	}
	drain(res)
	if _, err := l.session(r.Context(), gen); err != nil {
		return nil, err
	}
	return l.send(r, true)
}

// sessionEnded: KFP's API never redirects, so a redirect is the front
// sending kf-run to sign in; 401 is a session it no longer accepts.
func sessionEnded(res *http.Response) bool {
	switch res.StatusCode {
	case http.StatusUnauthorized, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusMovedPermanently, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// session returns the current session's generation, signing in when there
// is none or when the caller's generation stale is still current (so
// concurrent requests that all saw it end sign in once).
func (l *login) session(ctx context.Context, stale int) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.gen > 0 && l.gen != stale {
		return l.gen, nil
	}
	if err := l.signIn(ctx); err != nil {
		return 0, err
	}
	l.gen++
	return l.gen, nil
}

func (l *login) send(r *http.Request, again bool) (*http.Response, error) {
	r2, err := rewind(r, again)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	jar := l.jar
	l.mu.Unlock()
	for _, c := range jar.Cookies(r.URL) {
		r2.AddCookie(c)
	}
	res, err := l.next.RoundTrip(r2)
	if err == nil {
		// oauth2-proxy refreshes its cookie on the way through.
		if cs := res.Cookies(); len(cs) > 0 {
			for _, c := range cs {
				if console.SecretName(c.Name) {
					l.onSecret(c.Value)
				}
			}
			jar.SetCookies(r.URL, cs)
		}
	}
	return res, err
}

// signIn runs the browser flow with a fresh cookie jar.
func (l *login) signIn(ctx context.Context) error {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Transport: l.next, Jar: jar, Timeout: 60 * time.Second}
	fail := func(format string, a ...any) error {
		return permanent{fmt.Errorf("Dex login as %s at %s: %s", l.user, l.start.Redacted(), fmt.Sprintf(format, a...))}
	}
	transient := func(err error) error { // the network: worth another attempt
		return fmt.Errorf("Dex login as %s at %s: %w", l.user, l.start.Redacted(), err)
	}
	page, err := fetch(ctx, c, http.MethodGet, l.start, nil)
	if err != nil {
		return transient(err)
	}
	sawForm := false
	for range 6 {
		if f := page.form("password"); f != nil {
			if sawForm {
				return fail("the login form came back after the password was sent: wrong username or password (%s)", page.status())
			}
			sawForm = true
			v := f.fields
			v.Set("login", l.user)
			v.Set("password", l.pass)
			page, err = fetch(ctx, c, http.MethodPost, f.action, v)
		} else if f := page.form("approval"); f != nil {
			v := f.fields
			v.Set("approval", "approve")
			page, err = fetch(ctx, c, http.MethodPost, f.action, v)
		} else if u := page.link("/auth/local"); u != nil && !sawForm {
			// Dex's connector choice: take the local (password) connector.
			page, err = fetch(ctx, c, http.MethodGet, u, nil)
		} else {
			break
		}
		if err != nil {
			return transient(err)
		}
	}
	if !sawForm {
		return fail("no Dex login form on the way (%s); set login_url to the page that leads to it, or use a token", page.status())
	}
	if page.code == http.StatusUnauthorized || page.code == http.StatusForbidden || page.code >= 500 {
		return fail("the front refused the login on the way back (%s)", page.status())
	}
	var names []string
	for _, ck := range jar.Cookies(l.host) {
		names = append(names, ck.Name)
		// The session cookies (authservice_session, oauth2_proxy_kubeflow)
		// are secret by name; a front's lang=en is not.
		if console.SecretName(ck.Name) {
			l.onSecret(ck.Value)
		}
	}
	if len(names) == 0 {
		return fail("signed in, but no cookie was set for %s (%s)", l.host.Host, page.status())
	}
	slices.Sort(names)
	l.jar, l.cookies = jar, names
	return nil
}

// SessionCookies names the session cookies of the last login.
func (l *login) SessionCookies() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cookies
}

type page struct {
	url  *url.URL
	code int
	doc  *html.Node
}

func (p *page) status() string { return fmt.Sprintf("HTTP %d at %s", p.code, p.url.Redacted()) }

func fetch(ctx context.Context, c *http.Client, method string, u *url.URL, form url.Values) (*page, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Accept", "text/html")
	res, err := c.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL may carry a state; keep the message short
		}
		return nil, fmt.Errorf("%s %s: %w", method, u.Redacted(), err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	doc, err := html.Parse(bytes.NewReader(b))
	if err != nil {
		doc = &html.Node{}
	}
	return &page{url: res.Request.URL, code: res.StatusCode, doc: doc}, nil
}

type form struct {
	action *url.URL
	fields url.Values
	names  []string
}

// form finds the first form with an input or button named name.
func (p *page) form(name string) *form {
	var found *form
	var walk func(*html.Node, *form)
	walk = func(n *html.Node, cur *form) {
		if found != nil {
			return
		}
		if n.Type == html.ElementNode {
			switch n.Data {
			case "form":
				act := p.url
				if a := attr(n, "action"); a != "" {
					if u, err := p.url.Parse(a); err == nil {
						act = u
					}
				}
				cur = &form{action: act, fields: url.Values{}}
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					walk(c, cur)
				}
				if slices.Contains(cur.names, name) && found == nil {
					found = cur
				}
				return
			case "input", "button":
				if cur != nil && attr(n, "name") != "" {
					cur.names = append(cur.names, attr(n, "name"))
					if n.Data == "input" && attr(n, "type") != "submit" {
						cur.fields.Set(attr(n, "name"), attr(n, "value"))
					}
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, cur)
		}
	}
	walk(p.doc, nil)
	return found
}

// link finds the first <a href> whose path contains sub.
func (p *page) link(sub string) *url.URL {
	var found *url.URL
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if found != nil {
			return
		}
		if n.Type == html.ElementNode && n.Data == "a" {
			if u, err := p.url.Parse(attr(n, "href")); err == nil && strings.Contains(u.Path, sub) {
				found = u
				return
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(p.doc)
	return found
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}
