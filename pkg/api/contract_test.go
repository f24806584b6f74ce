package api_test

import (
	"net/http"
	"testing"

	"github.com/curavani/matching/contracts"
	"github.com/curavani/matching/contracts/openapitest"
	"github.com/curavani/matching/pkg/api"
)

// checked serves h with every request and response of a test checked
// against the OpenAPI document (contracts/openapitest); benchmarks get h
// as it is, so that they measure the API alone.
func checked(tb testing.TB, h http.Handler) http.Handler {
	if _, bench := tb.(*testing.B); bench {
		return h
	}
	return openapitest.Handler(tb, h)
}

// outside marks a request as deliberately outside the contract, for do's
// headers: the server tolerates it, the document does not allow it.
func outside(why string) []string { return []string{openapitest.Outside, why} }

// The API serves its OpenAPI document as the repository keeps it, without a
// bearer token even when API_TOKENS is set.
func TestOpenAPI_servedOpenAsTheRepositoryKeepsIt(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *api.Config) { c.Tokens = []string{"alpha"} })
	r := e.do("GET", "/api/openapi.json", nil).must(t, 200)
	if r.raw != string(contracts.OpenAPI) || r.header.Get("Content-Type") != "application/json" {
		t.Errorf("served %d bytes as %q, want contracts/openapi.json (%d bytes) as application/json",
			len(r.raw), r.header.Get("Content-Type"), len(contracts.OpenAPI))
	}
	e.do("GET", "/api/platzsuchen", nil).must(t, 401)
}
