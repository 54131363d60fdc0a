// Package authtest has loopback servers that stand in front of KFP the way
// Kubeflow's edge does, for kf-run's tests: a login front with Dex's
// local-password flow in either cookie generation, a GitHub Actions
// ID-token endpoint, and a Kubernetes API server's service proxy. They are
// faithful in what a client sees (redirects, forms, cookies, status codes)
// and small in everything else.
package authtest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"html/template"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Generation is which Kubeflow login front is mirrored.
type Generation string

const (
	// AuthService is oidc-authservice (Kubeflow ≤1.8): cookie
	// authservice_session, callback /login/oidc, 302 for every request
	// without a session.
	AuthService Generation = "authservice"
	// OAuth2Proxy is oauth2-proxy (Kubeflow ≥1.9): cookie
	// oauth2_proxy_kubeflow, CSRF cookie, callback /oauth2/callback, 401 for
	// requests that accept JSON and 302 for the others.
	OAuth2Proxy Generation = "oauth2-proxy"
)

// FrontOptions configure a Front.
type FrontOptions struct {
	Generation Generation
	// Upstream is the KFP server; requests are forwarded with the path as is.
	Upstream string
	// Users are the Dex static passwords: email → password.
	Users map[string]string
	// UserHeader carries the identity upstream (default kubeflow-userid).
	UserHeader string
	// SessionRequests ends a session after this many proxied requests
	// (0: never), to make a session expire in the middle of a wait.
	SessionRequests int
	// SkipApproval skips Dex's approval screen.
	SkipApproval bool
	// Bearer, when set, accepts Authorization: Bearer tokens it maps to a
	// user (oauth2-proxy's --skip-jwt-bearer-tokens).
	Bearer func(token string) (user string, ok bool)
}

// Front is a running login front.
type Front struct {
	URL string
	o   FrontOptions
	srv *httptest.Server
	up  *httputil.ReverseProxy
	key *signer

	mu       sync.Mutex
	authReqs map[string]*authReq // Dex auth requests by id
	codes    map[string]string   // code → user
	sessions map[string]*session
	logins   int
	proxied  int
	issued   []string // every session cookie value, for leak checks
}

type authReq struct {
	redirect, state, user string
	approved              bool
}

type session struct {
	user string
	left int
}

// NewFront starts a front; Close it when done.
func NewFront(o FrontOptions) *Front {
	if o.UserHeader == "" {
		o.UserHeader = "kubeflow-userid"
	}
	up, err := url.Parse(o.Upstream)
	if err != nil {
		panic(err)
	}
	f := &Front{o: o, key: newSigner(), authReqs: map[string]*authReq{}, codes: map[string]string{}, sessions: map[string]*session{}}
	f.up = &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(up)
		r.Out.URL.Path, r.Out.URL.RawPath = r.In.URL.Path, r.In.URL.RawPath
		r.Out.Host = up.Host
	}}
	// Fields the handler reads are set before it can run.
	f.srv = httptest.NewUnstartedServer(f)
	f.URL = "http://" + f.srv.Listener.Addr().String()
	f.srv.Start()
	return f
}

// Close stops the front.
func (f *Front) Close() { f.srv.Close() }

// Logins counts completed logins (sessions issued).
func (f *Front) Logins() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.logins
}

// Proxied counts requests forwarded upstream.
func (f *Front) Proxied() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.proxied
}

func (f *Front) cookieName() string {
	if f.o.Generation == AuthService {
		return "authservice_session"
	}
	return "oauth2_proxy_kubeflow"
}

func (f *Front) callbackPath() string {
	if f.o.Generation == AuthService {
		return "/login/oidc"
	}
	return "/oauth2/callback"
}

func (f *Front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch p := r.URL.Path; {
	case p == "/dex/.well-known/openid-configuration":
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(discovery(f.Issuer(), "/auth", "/token", "/keys", "/userinfo"))
	case p == "/dex/keys":
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(f.key.jwks())
	case p == "/dex/token":
		f.dexToken(w, r)
	case p == "/dex/userinfo":
		f.dexUserinfo(w, r)
	case p == "/dex/auth":
		f.dexAuth(w, r)
	case p == "/dex/auth/local":
		http.Redirect(w, r, "/dex/auth/local/login?back=&state="+url.QueryEscape(r.URL.Query().Get("state")), http.StatusFound)
	case p == "/dex/auth/local/login":
		f.dexLogin(w, r)
	case p == "/dex/approval":
		f.dexApproval(w, r)
	case p == f.callbackPath():
		f.callback(w, r)
	case p == "/oauth2/start" && f.o.Generation == OAuth2Proxy:
		f.startLogin(w, r, r.URL.Query().Get("rd"))
	case f.o.Upstream == "":
		http.NotFound(w, r) // Dex alone: the issuer of another front
	default:
		f.proxy(w, r)
	}
}

// Issuer is the front's Dex as an OpenID provider (discovery, keys, token
// endpoint), for a real front such as oauth2-proxy: https://HOST/dex.
func (f *Front) Issuer() string { return f.URL + "/dex" }

// dexToken exchanges a code for an ID token, as Dex's token endpoint does.
func (f *Front) dexToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.PostFormValue("grant_type") != "authorization_code" {
		http.Error(w, `{"error":"unsupported_grant_type"}`, http.StatusBadRequest)
		return
	}
	client, _, ok := r.BasicAuth()
	if !ok {
		client = r.PostFormValue("client_id")
	}
	f.mu.Lock()
	user, ok := f.codes[r.PostFormValue("code")]
	delete(f.codes, r.PostFormValue("code"))
	f.mu.Unlock()
	if !ok {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"invalid_grant","error_description":"Invalid or expired code parameter."}`))
		return
	}
	now := time.Now()
	idt := f.key.sign(map[string]any{"iss": f.Issuer(), "sub": hex.EncodeToString([]byte(user)), "aud": client,
		"exp": now.Add(24 * time.Hour).Unix(), "iat": now.Unix(), "email": user, "email_verified": true, "name": user, "groups": []string{}})
	f.mu.Lock()
	f.logins++
	f.issued = append(f.issued, idt)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	at := "at-" + randID()
	f.mu.Lock()
	f.codes[at] = user // the access token, for userinfo
	f.issued = append(f.issued, at)
	f.mu.Unlock()
	_, _ = w.Write(mustJSON(map[string]any{"access_token": at, "token_type": "bearer", "expires_in": 86399, "id_token": idt}))
}

func (f *Front) dexUserinfo(w http.ResponseWriter, r *http.Request) {
	at, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	f.mu.Lock()
	user, ok := f.codes[at]
	f.mu.Unlock()
	if !ok || !strings.HasPrefix(at, "at-") {
		http.Error(w, "Invalid bearer token.", http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(mustJSON(map[string]any{"sub": hex.EncodeToString([]byte(user)), "email": user, "email_verified": true, "name": user, "groups": []string{}}))
}

func (f *Front) proxy(w http.ResponseWriter, r *http.Request) {
	user := ""
	if c, err := r.Cookie(f.cookieName()); err == nil {
		f.mu.Lock()
		if s := f.sessions[c.Value]; s != nil {
			user = s.user
			if f.o.SessionRequests > 0 {
				s.left--
				if s.left < 0 {
					delete(f.sessions, c.Value)
					user = ""
				}
			}
		}
		f.mu.Unlock()
	}
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && user == "" && f.o.Bearer != nil {
		if u, ok := f.o.Bearer(tok); ok {
			user = u
		} else {
			http.Error(w, "invalid bearer token", http.StatusUnauthorized)
			return
		}
	}
	if user == "" {
		if f.o.Generation == OAuth2Proxy && strings.Contains(r.Header.Get("Accept"), "application/json") {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		if f.o.Generation == OAuth2Proxy {
			http.Redirect(w, r, "/oauth2/start?rd="+url.QueryEscape(r.URL.RequestURI()), http.StatusFound)
			return
		}
		f.startLogin(w, r, r.URL.RequestURI())
		return
	}
	f.mu.Lock()
	f.proxied++
	f.mu.Unlock()
	// The edge owns identity: a client's own header is dropped, the
	// session's user is set, credentials stop here.
	r.Header.Del(f.o.UserHeader)
	r.Header.Set(f.o.UserHeader, user)
	r.Header.Del("Authorization")
	removeCookie(r, f.cookieName())
	f.up.ServeHTTP(w, r)
}

func removeCookie(r *http.Request, name string) {
	var keep []string
	for _, c := range r.Cookies() {
		if !strings.HasPrefix(c.Name, name) {
			keep = append(keep, c.String())
		}
	}
	r.Header.Del("Cookie")
	if len(keep) > 0 {
		r.Header.Set("Cookie", strings.Join(keep, "; "))
	}
}

// startLogin sends the browser to Dex with a state remembered in a CSRF
// cookie, as both fronts do.
func (f *Front) startLogin(w http.ResponseWriter, r *http.Request, rd string) {
	nonce := randID()
	csrf := "oidc_state_csrf"
	if f.o.Generation == OAuth2Proxy {
		csrf = "oauth2_proxy_kubeflow_csrf"
	}
	http.SetCookie(w, &http.Cookie{Name: csrf, Value: nonce, Path: "/", HttpOnly: true})
	q := url.Values{
		"client_id":     {"kubeflow-oidc-authservice"},
		"redirect_uri":  {f.callbackPath()},
		"response_type": {"code"},
		"scope":         {"openid profile email groups"},
		"state":         {nonce + ":" + rd},
	}
	http.Redirect(w, r, "/dex/auth?"+q.Encode(), http.StatusFound)
}

func (f *Front) dexAuth(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("response_type") != "code" || q.Get("redirect_uri") == "" {
		http.Error(w, "Invalid request", http.StatusBadRequest)
		return
	}
	id := randID()
	f.mu.Lock()
	f.authReqs[id] = &authReq{redirect: q.Get("redirect_uri"), state: q.Get("state")}
	f.mu.Unlock()
	// One connector (local): Dex redirects straight to it.
	http.Redirect(w, r, "/dex/auth/local?client_id=kubeflow-oidc-authservice&state="+url.QueryEscape(id), http.StatusFound)
}

var loginPage = template.Must(template.New("").Parse(`<!DOCTYPE html>
<html><head><title>dex</title></head><body>
<div class="theme-panel"><h2 class="theme-heading">Log in to Your Account</h2>
<form method="post" action="{{.PostURL}}">
  <div class="theme-form-row"><div class="theme-form-label"><label for="userid">Email Address</label></div>
    <input tabindex="1" required id="login" name="login" type="text" class="theme-form-input" placeholder="email address" value="{{.Username}}" autofocus /></div>
  <div class="theme-form-row"><div class="theme-form-label"><label for="password">Password</label></div>
    <input tabindex="2" required id="password" name="password" type="password" class="theme-form-input" placeholder="password" /></div>
  {{if .Invalid}}<div id="login-error" class="dex-error-box">Invalid Email Address and password.</div>{{end}}
  <button tabindex="3" id="submit-login" type="submit" class="dex-btn theme-btn--primary">Login</button>
</form></div></body></html>`))

var approvalPage = template.Must(template.New("").Parse(`<!DOCTYPE html>
<html><body><div class="theme-panel"><h2 class="theme-heading">Grant Access</h2>
<div class="dex-subtle-text">kubeflow-oidc-authservice would like to:</div>
<div><form method="post"><input type="hidden" name="req" value="{{.ReqID}}"/><input type="hidden" name="hmac" value="{{.HMAC}}"/>
  <button type="submit" name="approval" value="approve" class="dex-btn theme-btn--success"><span class="dex-btn-text">Grant Access</span></button></form></div>
<div><form method="post"><input type="hidden" name="req" value="{{.ReqID}}"/><input type="hidden" name="hmac" value="{{.HMAC}}"/>
  <button type="submit" name="approval" value="rejected" class="dex-btn theme-btn-provider"><span class="dex-btn-text">Cancel</span></button></form></div>
</div></body></html>`))

func (f *Front) dexLogin(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("state")
	f.mu.Lock()
	ar := f.authReqs[id]
	f.mu.Unlock()
	if ar == nil {
		http.Error(w, "Database error.", http.StatusBadRequest)
		return
	}
	data := map[string]any{"PostURL": r.URL.RequestURI(), "Username": "", "Invalid": false}
	switch r.Method {
	case http.MethodGet:
	case http.MethodPost:
		login, pass := r.PostFormValue("login"), r.PostFormValue("password")
		if want, ok := f.o.Users[login]; ok && want == pass {
			f.mu.Lock()
			ar.user = login
			f.mu.Unlock()
			if f.o.SkipApproval {
				f.approve(w, r, id)
				return
			}
			http.Redirect(w, r, "/dex/approval?req="+url.QueryEscape(id)+"&hmac="+hmacOf(id), http.StatusSeeOther)
			return
		}
		data["Username"], data["Invalid"] = login, true
		w.WriteHeader(http.StatusUnauthorized)
	default:
		http.Error(w, "Method not supported", http.StatusBadRequest)
		return
	}
	_ = loginPage.Execute(w, data)
}

func hmacOf(id string) string { return hex.EncodeToString([]byte(id))[:8] }

func (f *Front) dexApproval(w http.ResponseWriter, r *http.Request) {
	id := r.FormValue("req")
	f.mu.Lock()
	ar := f.authReqs[id]
	f.mu.Unlock()
	if ar == nil || ar.user == "" || r.FormValue("hmac") != hmacOf(id) {
		http.Error(w, "Login process not yet finalized.", http.StatusBadRequest)
		return
	}
	switch r.Method {
	case http.MethodGet:
		_ = approvalPage.Execute(w, map[string]string{"ReqID": id, "HMAC": hmacOf(id)})
	case http.MethodPost:
		if r.PostFormValue("approval") != "approve" {
			http.Error(w, "Approval rejected.", http.StatusBadRequest)
			return
		}
		f.approve(w, r, id)
	default:
		http.Error(w, "Method not supported", http.StatusBadRequest)
	}
}

func (f *Front) approve(w http.ResponseWriter, r *http.Request, id string) {
	code := randID()
	f.mu.Lock()
	ar := f.authReqs[id]
	delete(f.authReqs, id)
	f.codes[code] = ar.user
	f.mu.Unlock()
	q := url.Values{"code": {code}, "state": {ar.state}}
	http.Redirect(w, r, ar.redirect+"?"+q.Encode(), http.StatusSeeOther)
}

func (f *Front) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	nonce, rd, _ := strings.Cut(q.Get("state"), ":")
	csrf := "oidc_state_csrf"
	if f.o.Generation == OAuth2Proxy {
		csrf = "oauth2_proxy_kubeflow_csrf"
	}
	c, err := r.Cookie(csrf)
	if err != nil || c.Value != nonce {
		http.Error(w, "CSRF token mismatch", http.StatusForbidden)
		return
	}
	f.mu.Lock()
	user, ok := f.codes[q.Get("code")]
	delete(f.codes, q.Get("code"))
	f.mu.Unlock()
	if !ok {
		http.Error(w, "invalid code", http.StatusInternalServerError)
		return
	}
	sid := randID() + randID()
	f.mu.Lock()
	f.sessions[sid] = &session{user: user, left: f.o.SessionRequests}
	f.issued = append(f.issued, sid)
	f.logins++
	f.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: csrf, Value: "", Path: "/", MaxAge: -1})
	http.SetCookie(w, &http.Cookie{Name: f.cookieName(), Value: sid, Path: "/", HttpOnly: true})
	if !strings.HasPrefix(rd, "/") {
		rd = "/"
	}
	http.Redirect(w, r, rd, http.StatusFound)
}

// Sessions lists every session cookie value issued so far.
func (f *Front) Sessions() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.issued...)
}

func randID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// String describes the front, for test logs.
func (f *Front) String() string { return fmt.Sprintf("%s front at %s", f.o.Generation, f.URL) }
