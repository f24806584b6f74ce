// Package contracts holds the machine-readable contracts of matching that
// other teams build against, kept beside the code that must honour them:
//
//   - openapi.json: OpenAPI 3.1 of the anfrage API, served by the API at
//     GET /api/openapi.json;
//   - asyncapi.json: AsyncAPI 3.0 of the Kafka topics matching consumes and
//     produces, with the CloudEvents attributes, the partition key and a JSON
//     Schema of every event's payload.
//
// The tests keep them true: contracts/openapitest validates every request
// and response the API tests make, contracts/asyncapitest every event the
// test suite emits and every example event of the README.
package contracts

import _ "embed"

// OpenAPI is the OpenAPI 3.1 document of the anfrage API, as JSON.
//
//go:embed openapi.json
var OpenAPI []byte

// AsyncAPI is the AsyncAPI 3.0 document of matching's Kafka channels, as JSON.
//
//go:embed asyncapi.json
var AsyncAPI []byte
