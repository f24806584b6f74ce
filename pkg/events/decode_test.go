package events_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/curavani/matching/pkg/events"
)

// An event logged under the empty key puts its type, id and key at the top
// level of the line, beside the line's own attributes.
func TestInbound_logsItsTypeIDAndKeyAtTheTopLevel(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	in := events.Inbound{Type: events.PatientDeleted, ID: "e-1", Key: "7", Source: "/patient-service", Payload: json.RawMessage(`{"patient_id":7}`)}
	log.Info("patient deleted", slog.Any("", in), slog.Int64("patient_id", 7))

	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatal(err)
	}
	delete(line, "time")
	want := map[string]any{"level": "INFO", "msg": "patient deleted", "type": "patient.deleted", "id": "e-1", "key": "7", "patient_id": float64(7)}
	if diff := cmp.Diff(want, line); diff != "" {
		t.Fatalf("log line (-want +got):\n%s", diff)
	}
}
