package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// oidcMinter gets ID tokens from the GitHub Actions runtime
// (ACTIONS_ID_TOKEN_REQUEST_URL + &audience=, with the request token as
// bearer; the answer is {"value": JWT}) and mints a new one a minute before
// the current one expires (they live about five minutes), or after a 401.
type oidcMinter struct {
	url, reqToken, audience string
	client                  *http.Client
	now                     func() time.Time
	onSecret                func(string)

	// lock is a one-slot semaphore rather than a mutex, so a request
	// waiting for another's mint gives up when its own context ends: after
	// SIGINT, stopping runs has seconds, not the endpoint's 30 s timeout.
	lock chan struct{}
	tok  string
	exp  time.Time
}

func newOIDCMinter(url, reqToken, audience string, now func() time.Time, onSecret func(string)) *oidcMinter {
	return &oidcMinter{url: url, reqToken: reqToken, audience: audience, now: now, onSecret: onSecret,
		lock:   make(chan struct{}, 1),
		client: &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone(), Timeout: 30 * time.Second}}
}

func (m *oidcMinter) get(ctx context.Context, refresh bool) (string, error) {
	select {
	case m.lock <- struct{}{}:
	case <-ctx.Done():
		return "", fmt.Errorf("GitHub OIDC: wait for an ID token: %w", ctx.Err())
	}
	defer func() { <-m.lock }()
	if m.tok != "" && !refresh && m.now().Before(m.exp.Add(-time.Minute)) {
		return m.tok, nil
	}
	u, err := url.Parse(m.url)
	if err != nil {
		return "", fmt.Errorf("ACTIONS_ID_TOKEN_REQUEST_URL is not a URL")
	}
	if m.audience != "" {
		q := u.Query()
		q.Set("audience", m.audience)
		u.RawQuery = q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", fmt.Errorf("GitHub OIDC: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+m.reqToken)
	req.Header.Set("Accept", "application/json")
	res, err := m.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL carries a signed query: keep it out
		}
		return "", fmt.Errorf("GitHub OIDC: request an ID token from %s://%s: %w", u.Scheme, u.Host, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	var v struct {
		Value string `json:"value"`
	}
	if res.StatusCode != http.StatusOK || json.Unmarshal(b, &v) != nil || v.Value == "" {
		err := fmt.Errorf("GitHub OIDC: the ID-token endpoint answered HTTP %d without a token (does the job have `permissions: id-token: write`?)", res.StatusCode)
		if res.StatusCode >= 400 && res.StatusCode < 500 && res.StatusCode != http.StatusTooManyRequests {
			return "", permanent{err}
		}
		return "", err
	}
	m.onSecret(v.Value)
	m.tok, m.exp = v.Value, jwtExpiry(v.Value, m.now())
	return m.tok, nil
}

// jwtExpiry reads exp from the (unverified) token; without one, the token
// is taken to last five minutes.
func jwtExpiry(jwt string, now time.Time) time.Time {
	def := now.Add(5 * time.Minute)
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return def
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return def
	}
	var c struct {
		Exp int64 `json:"exp"`
	}
	if json.Unmarshal(b, &c) != nil || c.Exp == 0 {
		return def
	}
	return time.Unix(c.Exp, 0)
}
