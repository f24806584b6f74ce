package handlers

import (
	"context"
	"log/slog"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/inbox"
	"github.com/curavani/matching/pkg/matching"
	"github.com/curavani/matching/pkg/placement"
	"github.com/curavani/matching/pkg/store"
)

// Communication returns the handler of communication-events. Every
// communication event is logged and recorded in processed_events with its
// type (so sent emails, responses and completed follow-up calls can be
// counted from the database); an email.sent whose email belongs to an
// anfrage also adds a note to that anfrage; an email.response_received is
// the therapist's reply, read and recorded or filed for review by uc
// (placement.ReceiveReply, in the event's transaction).
func Communication(pool *pgxpool.Pool, pub inbox.Publisher, log *slog.Logger, uc *placement.Service) *inbox.Processor {
	log = logger(log)
	logOnly := func(_ context.Context, _ pgx.Tx, in events.Inbound) ([]events.Outgoing, error) {
		log.Info("communication event", slog.Any("", in))
		return nil, nil
	}
	return &inbox.Processor{
		Consumer:  CommunicationGroup,
		Pool:      pool,
		Publisher: pub,
		Routes: map[string]inbox.Func{
			events.EmailSent: func(ctx context.Context, tx pgx.Tx, in events.Inbound) ([]events.Outgoing, error) {
				return nil, emailSent(ctx, tx, in, log)
			},
			events.PhoneCallCompleted: func(_ context.Context, _ pgx.Tx, in events.Inbound) ([]events.Outgoing, error) {
				d, err := events.ParsePhoneCallCompleted(in.Payload)
				if err != nil {
					return nil, err
				}
				log.Info("phone call completed", slog.Any("", in), slog.Int64("phone_call_id", d.CallID))
				return nil, nil
			},
			events.CallScheduled: logOnly,
			events.EmailCreated:  logOnly,
		},
		Prepared: map[string]inbox.Prepare{
			events.EmailResponseReceived: func(_ context.Context, in events.Inbound) (inbox.Step, error) {
				return emailResponse(in, uc, log)
			},
		},
	}
}

// EmailSentNote is the note an anfrage gets when its email was sent.
func EmailSentNote(emailID int64) string {
	return "Email " + strconv.FormatInt(emailID, 10) + " sent"
}

// emailSent notes the delivery on the anfrage the email belongs to, if any.
func emailSent(ctx context.Context, tx pgx.Tx, in events.Inbound, log *slog.Logger) error {
	d, err := events.ParseEmailEvent(in.Payload)
	if err != nil {
		return err
	}
	at := in.At
	ids, err := store.NoteAnfragenByEmail(ctx, tx, d.EmailID, matching.Note(at, matching.AuthorSystem, EmailSentNote(d.EmailID)))
	if err != nil {
		return err
	}
	log.Info("email sent", slog.Any("", in), slog.Int64("email_id", d.EmailID), slog.Any("anfrage_ids", ids))
	return nil
}

// emailResponse reads the therapist's reply from the payload before the
// event's transaction (a poison payload is rejected without one) and
// returns the step that hands it to the use case in that transaction and,
// once it committed, writes a recorded response's cooling date back.
func emailResponse(in events.Inbound, uc *placement.Service, log *slog.Logger) (inbox.Step, error) {
	d, err := events.ParseEmailResponse(in.Payload)
	if err != nil {
		return inbox.Step{}, err
	}
	var res placement.ReplyReceived
	return inbox.Step{
		Apply: func(ctx context.Context, tx pgx.Tx, in events.Inbound) ([]events.Outgoing, error) {
			var out []events.Outgoing
			var err error
			res, out, err = uc.ReceiveReply(ctx, tx, placement.Reply{
				EmailID: d.EmailID, TherapistID: d.TherapistID,
				Subject: d.Subject, Body: d.Body, From: d.From, ReceivedAt: d.ReceivedAt,
			}, in.At)
			return out, err
		},
		After: func(ctx context.Context) {
			log.Info("email response received", slog.Any("", in), slog.Int64("email_id", d.EmailID),
				slog.Int64("anfrage_id", res.AnfrageID), slog.Bool("recorded", res.Recorded != nil),
				slog.String("review_reason", res.Reason), slog.Int("undecided", len(res.Unclear)),
				slog.Int64("suggestion_id", res.SuggestionID), slog.Bool("seen_before", res.Duplicate))
			uc.ReplyCommitted(ctx, res)
		},
	}, nil
}
