// Package events is matching's event vocabulary: the type names it consumes
// and emits, their payloads, the decoding of the three input shapes a handler
// accepts (a typed CloudEvent, a CloudEvent carrying the reference envelope,
// and the envelope with snake_case keys), the deduplication key, and the
// CloudEvents matching emits to matching-events.
//
// It knows no transport and no SQL.
package events
