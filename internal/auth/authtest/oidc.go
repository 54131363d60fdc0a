package authtest

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"
)

// GitHubOIDC is the Actions runtime's ID-token endpoint: GET
// ACTIONS_ID_TOKEN_REQUEST_URL&audience=AUD with the request token as
// bearer answers {"value": JWT}. Its JWTs are RS256, with the issuer's
// discovery document and JWKS served beside (Issuer/.well-known/...), so a
// real edge (oauth2-proxy --extra-jwt-issuers) can verify them; Verify
// plays that edge in-process.
type GitHubOIDC struct {
	RequestURL   string // ACTIONS_ID_TOKEN_REQUEST_URL (with ?api-version=2.0)
	RequestToken string // ACTIONS_ID_TOKEN_REQUEST_TOKEN
	Subject      string
	// TTL is each token's lifetime (default 5m). Below a minute, kf-run
	// mints a new one for every request.
	TTL time.Duration

	// Issuer is the iss claim: this server's URL (github.com's is
	// https://token.actions.githubusercontent.com).
	Issuer string

	srv *httptest.Server
	key *signer

	mu     sync.Mutex
	minted []string
}

// NewGitHubOIDC starts the endpoint; Close it when done.
func NewGitHubOIDC(subject string, ttl time.Duration) *GitHubOIDC {
	g := &GitHubOIDC{Subject: subject, TTL: ttl, key: newSigner(), RequestToken: "ghreq-" + randID()}
	if g.TTL == 0 {
		g.TTL = 5 * time.Minute
	}
	// Fields the handler reads are set before it can run.
	g.srv = httptest.NewUnstartedServer(http.HandlerFunc(g.serve))
	g.Issuer = "http://" + g.srv.Listener.Addr().String()
	g.srv.Start()
	g.RequestURL = g.srv.URL + "/_apis/distributedtask/hubs/build/plans/p/jobs/j/idtoken?api-version=2.0"
	return g
}

// Close stops the endpoint.
func (g *GitHubOIDC) Close() { g.srv.Close() }

// Minted lists every token issued so far.
func (g *GitHubOIDC) Minted() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.minted...)
}

func (g *GitHubOIDC) serve(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/.well-known/openid-configuration":
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(discovery(g.Issuer, "/authorize", "/token", "/.well-known/jwks", "/userinfo"))
		return
	case "/.well-known/jwks":
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(g.key.jwks())
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+g.RequestToken {
		http.Error(w, `{"message":"Bad credentials"}`, http.StatusUnauthorized)
		return
	}
	if r.URL.Query().Get("api-version") != "2.0" {
		http.Error(w, "api-version is lost", http.StatusBadRequest)
		return
	}
	aud := r.URL.Query().Get("audience")
	if aud == "" {
		aud = "https://github.com/acme"
	}
	now := time.Now()
	tok := g.key.sign(map[string]any{"iss": g.Issuer, "aud": aud, "sub": g.Subject, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(g.TTL).Unix(), "jti": randID()})
	g.mu.Lock()
	g.minted = append(g.minted, tok)
	g.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"value": tok})
}

// Verify checks a token's signature, issuer, audience and expiry and
// returns its subject.
func (g *GitHubOIDC) Verify(tok, audience string) (string, bool) {
	c, ok := g.key.verify(tok)
	if !ok {
		return "", false
	}
	exp, _ := c["exp"].(float64)
	if c["iss"] != g.Issuer || c["aud"] != audience || time.Now().Unix() >= int64(exp) {
		return "", false
	}
	sub, _ := c["sub"].(string)
	return sub, true
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
