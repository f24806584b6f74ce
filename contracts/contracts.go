// Package contracts holds the machine-readable contracts of matching that
// other teams build against, kept beside the code that must honour them:
// openapi.json, the OpenAPI 3.1 document of the anfrage API, served by the
// API at GET /api/openapi.json.
//
// The tests keep it true: contracts/openapitest validates every request and
// response the API tests make.
package contracts

import _ "embed"

// OpenAPI is the OpenAPI 3.1 document of the anfrage API, as JSON.
//
//go:embed openapi.json
var OpenAPI []byte
