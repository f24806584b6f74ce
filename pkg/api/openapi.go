package api

import (
	"net/http"

	"github.com/curavani/matching/contracts"
)

// openAPIPath serves the API's OpenAPI document; like /health it needs no
// bearer token, so a client can read the contract before it has one.
const openAPIPath = "/api/openapi.json"

// openAPI answers the embedded OpenAPI document as it is kept in the
// repository (contracts/openapi.json).
func openAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(contracts.OpenAPI)
}
