package authtest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"strings"
)

// signer makes and checks RS256 JWTs, and publishes its key as a JWKS,
// which real relying parties (oauth2-proxy, Istio) need.
type signer struct {
	key *rsa.PrivateKey
	kid string
}

func newSigner() *signer {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return &signer{key: k, kid: randID()[:8]}
}

func (s *signer) sign(claims map[string]any) string {
	h := b64(mustJSON(map[string]string{"alg": "RS256", "typ": "JWT", "kid": s.kid}))
	p := b64(mustJSON(claims))
	sum := sha256.Sum256([]byte(h + "." + p))
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA256, sum[:])
	if err != nil {
		panic(err)
	}
	return h + "." + p + "." + b64(sig)
}

// verify checks the signature and returns the claims.
func (s *signer) verify(tok string) (map[string]any, bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, false
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, false
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(&s.key.PublicKey, crypto.SHA256, sum[:], sig) != nil {
		return nil, false
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, false
	}
	var c map[string]any
	if json.Unmarshal(b, &c) != nil {
		return nil, false
	}
	return c, true
}

func (s *signer) jwks() []byte {
	return mustJSON(map[string]any{"keys": []any{map[string]string{
		"kty": "RSA", "alg": "RS256", "use": "sig", "kid": s.kid,
		"n": b64(s.key.N.Bytes()), "e": b64(big.NewInt(int64(s.key.E)).Bytes()),
	}}})
}

// discovery is an OpenID Provider's metadata document.
func discovery(issuer, authPath, tokenPath, keysPath, userinfoPath string) []byte {
	return mustJSON(map[string]any{
		"issuer":                                issuer,
		"authorization_endpoint":                issuer + authPath,
		"token_endpoint":                        issuer + tokenPath,
		"jwks_uri":                              issuer + keysPath,
		"userinfo_endpoint":                     issuer + userinfoPath,
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"scopes_supported":                      []string{"openid", "email", "groups", "profile", "offline_access"},
		"claims_supported":                      []string{"iss", "sub", "aud", "iat", "exp", "email", "email_verified", "name"},
	})
}
