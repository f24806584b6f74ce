package api

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"
)

// RequestIDHeader carries a request's id: the caller's, when it sends a
// usable one, else one the API makes. The answer carries it back, the
// request's log lines carry it as request_id, and the history records it
// as part of the cause of the request's changes.
const RequestIDHeader = "X-Request-Id"

// requestIDPattern is what a caller's request id may be: up to 128 visible
// ASCII characters without spaces (a UUID, a trace id, …). Anything else is
// replaced, so that no header value reaches a log line or the history as is.
var requestIDPattern = regexp.MustCompile(`^[!-~]{1,128}$`)

// requestID returns the caller's id if usable, else a new random one.
func requestID(given string) string {
	if requestIDPattern.MatchString(given) {
		return given
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// Token is one bearer token of API_TOKENS with the name the history
// records for the requests that carry it (the token itself is never
// recorded or logged).
type Token struct {
	Name   string
	Secret string
}

// tokenName is what a token's name may be.
var tokenName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// ParseTokens reads the entries of API_TOKENS. An entry "name:token" (name
// of letters, digits, '.', '_' and '-', starting with a letter or digit)
// names its token; any other entry is a bare token, as API_TOKENS held
// before tokens had names, and is named "token-" and the first 8 hex digits
// of its SHA-256, which tells tokens apart without revealing them. A bare
// token that contains ':' after such a prefix must be given with a name.
func ParseTokens(entries []string) []Token {
	out := make([]Token, 0, len(entries))
	for _, e := range entries {
		if name, secret, ok := strings.Cut(e, ":"); ok && tokenName.MatchString(name) && secret != "" {
			out = append(out, Token{Name: name, Secret: secret})
			continue
		}
		sum := sha256.Sum256([]byte(e))
		out = append(out, Token{Name: "token-" + hex.EncodeToString(sum[:4]), Secret: e})
	}
	return out
}
