package authtest

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// GitHubOIDC is the Actions runtime's ID-token endpoint: GET
// ACTIONS_ID_TOKEN_REQUEST_URL&audience=AUD with the request token as
// bearer answers {"value": JWT}. Its JWTs are HS256 with a key of its own,
// and Verify plays the relying party (an edge that checks iss, aud, exp).
type GitHubOIDC struct {
	RequestURL   string // ACTIONS_ID_TOKEN_REQUEST_URL (with ?api-version=2.0)
	RequestToken string // ACTIONS_ID_TOKEN_REQUEST_TOKEN
	Subject      string
	// TTL is each token's lifetime (default 5m). Below a minute, kf-run
	// mints a new one for every request.
	TTL time.Duration

	srv *httptest.Server
	key []byte

	mu     sync.Mutex
	minted []string
}

// Issuer is the iss claim, as on github.com.
const Issuer = "https://token.actions.githubusercontent.com"

// NewGitHubOIDC starts the endpoint; Close it when done.
func NewGitHubOIDC(subject string, ttl time.Duration) *GitHubOIDC {
	g := &GitHubOIDC{Subject: subject, TTL: ttl, key: make([]byte, 32), RequestToken: "ghreq-" + randID()}
	_, _ = rand.Read(g.key)
	if g.TTL == 0 {
		g.TTL = 5 * time.Minute
	}
	g.srv = httptest.NewServer(http.HandlerFunc(g.serve))
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
	tok := g.sign(map[string]any{"iss": Issuer, "aud": aud, "sub": g.Subject, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(g.TTL).Unix(), "jti": randID()})
	g.mu.Lock()
	g.minted = append(g.minted, tok)
	g.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"value": tok})
}

func (g *GitHubOIDC) sign(claims map[string]any) string {
	h := b64(mustJSON(map[string]string{"alg": "HS256", "typ": "JWT"}))
	p := b64(mustJSON(claims))
	m := hmac.New(sha256.New, g.key)
	m.Write([]byte(h + "." + p))
	return h + "." + p + "." + b64(m.Sum(nil))
}

// Verify checks a token's signature, issuer, audience and expiry and
// returns its subject.
func (g *GitHubOIDC) Verify(tok, audience string) (string, bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return "", false
	}
	m := hmac.New(sha256.New, g.key)
	m.Write([]byte(parts[0] + "." + parts[1]))
	if !hmac.Equal([]byte(b64(m.Sum(nil))), []byte(parts[2])) {
		return "", false
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", false
	}
	var c struct {
		Iss, Aud, Sub string
		Exp           int64
	}
	if json.Unmarshal(b, &c) != nil || c.Iss != Issuer || c.Aud != audience || time.Now().Unix() >= c.Exp {
		return "", false
	}
	return c.Sub, true
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
