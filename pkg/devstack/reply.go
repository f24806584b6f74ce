package devstack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/curavani/matching/pkg/events"
)

// Reply delivers a therapist's email reply to anfrage anfrageID of the
// running stack st the way the communication service does when a reply
// arrives: it records the reply on the anfrage's email (antwort_erhalten,
// antwortdatum, antwortinhalt) at the fake communication service and
// publishes email.response_received to communication-events with the
// email's id and the reply {subject, body, from, received_at}. The subject
// defaults to "AW: " and the email's subject, the sender to the therapist's
// address the email went to. A literal \n in text is a line break.
func Reply(ctx context.Context, st State, anfrageID int64, text, subject string) (Published, error) {
	var anfrage struct {
		EmailID *int64 `json:"email_id"`
	}
	if err := getJSON(ctx, fmt.Sprintf("%s/api/therapeutenanfragen/%d", st.API, anfrageID), &anfrage); err != nil {
		return Published{}, err
	}
	if anfrage.EmailID == nil {
		return Published{}, fmt.Errorf("anfrage %d was not sent by email: there is no email to answer", anfrageID)
	}
	emailURL := fmt.Sprintf("%s/api/emails/%d", st.Neighbours, *anfrage.EmailID)
	var email struct {
		Betreff         string `json:"betreff"`
		EmpfaengerEmail string `json:"empfaenger_email"`
	}
	if err := getJSON(ctx, emailURL, &email); err != nil {
		return Published{}, err
	}
	body := strings.ReplaceAll(text, `\n`, "\n")
	if subject == "" {
		subject = "AW: " + email.Betreff
	}
	received := time.Now().UTC().Format("2006-01-02T15:04:05")
	if err := putJSON(ctx, emailURL, map[string]any{
		"antwort_erhalten": true, "antwortdatum": received, "antwortinhalt": body,
	}); err != nil {
		return Published{}, err
	}
	payload, _ := json.Marshal(map[string]any{"email_id": *anfrage.EmailID, "response_data": map[string]any{
		"subject": subject, "body": body, "from": email.EmpfaengerEmail, "received_at": received,
	}})
	return Publish(ctx, st.Brokers, events.EmailResponseReceived, string(payload), FormEnvelope, "")
}

func getJSON(ctx context.Context, url string, v any) error {
	return doJSON(ctx, http.MethodGet, url, nil, v)
}

func putJSON(ctx context.Context, url string, body any) error {
	b, _ := json.Marshal(body)
	return doJSON(ctx, http.MethodPut, url, b, nil)
}

// doJSON sends a request to the stack and decodes its JSON answer into v;
// an answer other than 200 is an error showing its body.
func doJSON(ctx context.Context, method, url string, body []byte, v any) error {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s %s", method, url, resp.Status, bytes.TrimSpace(data))
	}
	if v == nil {
		return nil
	}
	return json.Unmarshal(data, v)
}
