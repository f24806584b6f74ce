package placement

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/curavani/matching/pkg/directory"
	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/fault"
	"github.com/curavani/matching/pkg/matching"
	"github.com/curavani/matching/pkg/neighbours"
	"github.com/curavani/matching/pkg/store"
)

// maxRequestedContacts bounds one legacy contact request.
const maxRequestedContacts = 100

// NewSearch starts a patient's search for a therapy place.
type NewSearch struct {
	PatientID int64
	// Notes, when not empty, become the search's first note (author API).
	Notes string
}

// CreateSearch starts an aktiv search for the patient and emits
// search.status_changed (old_status null). The patient must exist (404;
// an outage of the patient service is 503) and have a record complete
// enough to be matched (400 "Cannot create platzsuche: …" with patient_id,
// see matching.ValidatePatientForSearch), and no aktiv search yet (400
// "Patient already has an active search" with search_id).
func (s *Service) CreateSearch(ctx context.Context, cmd NewSearch) (store.Search, error) {
	fetched, err := s.fetchPatient(ctx, cmd.PatientID)
	if err == nil && fetched.Gone {
		err = fault.NotFoundf("Patient %d not found", cmd.PatientID)
	}
	if err != nil {
		return store.Search{}, err
	}
	p := fetched.Record
	if err := matching.ValidatePatientForSearch(p.Matching()); err != nil {
		msg := err.Error()
		if fe := fault.As(err); fe != nil {
			msg = fe.Message
		}
		return store.Search{}, fault.Invalidf("Cannot create platzsuche: %s", msg).With("patient_id", cmd.PatientID)
	}
	now := s.now()
	var note *string
	if cmd.Notes != "" {
		n := matching.Note(now, matching.AuthorAPI, cmd.Notes)
		note = &n
	}
	var created store.Search
	var rechecks []int64
	ids, err := s.transact(ctx, func(tx pgx.Tx) ([]events.Outgoing, error) {
		var err error
		created, err = store.CreateSearch(ctx, tx, cmd.PatientID, note, now)
		if err != nil {
			return nil, creationRefusal(err)
		}
		// The copy keeps every patient with a search, as fetched now.
		if d := s.cfg.Directory; d != nil {
			st, err := d.StorePatient(ctx, tx, fetched, "platzsuche created")
			if err != nil {
				return nil, err
			}
			if st.Recheck != 0 {
				rechecks = append(rechecks, st.Recheck)
			}
		}
		return []events.Outgoing{events.NewSearchStatusChanged(events.SearchStatusChangedData{
			SearchID: created.ID, PatientID: created.PatientID, NewStatus: matching.StatusAktiv,
		})}, nil
	})
	if err != nil {
		return store.Search{}, err
	}
	s.publish(ctx, ids)
	s.ApplyRechecks(ctx, rechecks)
	return created, nil
}

// fetchPatient reads patient id from the patient service: through the
// directory when the service keeps a copy (the answer carries its fetch
// time, so it can be stored), else directly. A 404 is a Fetched with Gone.
func (s *Service) fetchPatient(ctx context.Context, id int64) (directory.Fetched[neighbours.Patient], error) {
	if d := s.cfg.Directory; d != nil {
		return d.FetchPatient(ctx, id)
	}
	p, err := s.cfg.Patients.Patient(ctx, id)
	if fault.KindOf(err) == fault.NotFound {
		return directory.Fetched[neighbours.Patient]{ID: id, Gone: true}, nil
	}
	return directory.Fetched[neighbours.Patient]{ID: id, Record: p}, err
}

// creationRefusal answers the store's one-active-search refusal of a new
// search as the reference's POST does, with 400 (reference-behaviour §4.4
// step 3; existing clients may depend on it). Resuming a search meets the
// same rule and keeps the store's 409 (product §6: a refused status change
// is a conflict); the rule itself is recognised in pkg/store alone.
func creationRefusal(err error) error {
	if !errors.Is(err, store.ErrOneActiveSearch) {
		return err
	}
	refusal := *fault.As(err)
	refusal.Kind = fault.Invalid
	return &refusal
}

// SearchChange is a change of a search; zero fields change nothing.
type SearchChange struct {
	// Status, when not empty, is the new status (matching.ValidStatuses);
	// the transition must be allowed (matching.CheckTransition).
	Status string
	// Notes, when set, replaces the whole notes text ("" clears it).
	Notes *string
	// Exclusions, when not nil, replaces the exclusion list: a JSON array
	// of therapist ids or {id, …} objects (matching.ValidateExclusionList).
	Exclusions json.RawMessage
	// Priority, when set, replaces prioritaet: higher is composed and
	// refilled first (enhancements A4).
	Priority *int
}

// UpdateSearch applies c to search id and, when the status changes, emits
// search.status_changed. Errors, in the order they are checked: 404 for an
// unknown search; 400 for an unknown status; 409 for a transition the state
// machine forbids (also to the same status); 409 "Patient already has an
// active search" with search_id when resuming while another search of the
// patient is aktiv; 400 for an invalid exclusion list. A successful search
// gets erfolgreiche_vermittlung_datum.
func (s *Service) UpdateSearch(ctx context.Context, id int64, c SearchChange) error {
	now := s.now()
	ids, err := s.transact(ctx, func(tx pgx.Tx) ([]events.Outgoing, error) {
		cur, err := store.LockSearch(ctx, tx, id)
		if err != nil {
			return nil, err
		}
		var out []events.Outgoing
		if c.Status != "" {
			if !matching.IsValidStatus(c.Status) {
				return nil, InvalidStatus(c.Status)
			}
			if err := matching.CheckTransition(cur.Status, c.Status); err != nil {
				return nil, err
			}
			var successfulAt *time.Time
			if c.Status == matching.StatusErfolgreich {
				successfulAt = &now
			}
			// The status goes first, so that the one-active-search rule
			// is answered before the exclusion list is looked at.
			if err := store.SetSearchStatus(ctx, tx, id, c.Status, successfulAt, now); err != nil {
				return nil, err
			}
			old := cur.Status
			out = append(out, events.NewSearchStatusChanged(events.SearchStatusChangedData{
				SearchID: id, PatientID: cur.PatientID, OldStatus: &old, NewStatus: c.Status,
			}))
		}
		u := store.SearchUpdate{Notes: c.Notes, Priority: c.Priority}
		if c.Exclusions != nil {
			list, err := matching.ValidateExclusionList(c.Exclusions)
			if err != nil {
				return nil, err
			}
			u.Exclusions = list
		}
		return out, store.UpdateSearch(ctx, tx, id, u, now)
	})
	if err != nil {
		return err
	}
	s.publish(ctx, ids)
	return nil
}

// InvalidStatus is the 400 of a search status that does not exist.
func InvalidStatus(status string) error {
	return fault.Invalidf("Invalid status '%s'. Valid values: %s", status, matching.ValidStatusesText())
}

// DeleteSearch deletes search id (404 if there is none). Its entries leave
// every anfrage they sit in, and those anfragen stay consistent (the
// reference left anfragegroesse too large, so the anfrage could neither be
// sent nor answered): positions close up, anfragegroesse becomes the number
// of remaining entries, the counts and response type of an answered anfrage
// are recomputed from the remaining outcomes, and an anfrage left without
// patients is deleted.
func (s *Service) DeleteSearch(ctx context.Context, id int64) error {
	_, err := s.transact(ctx, func(tx pgx.Tx) ([]events.Outgoing, error) {
		anfragen, err := store.DeleteSearch(ctx, tx, id)
		if err != nil {
			return nil, err
		}
		answered, err := store.CompactAnfragen(ctx, tx, anfragen)
		if err != nil {
			return nil, err
		}
		for _, aid := range answered {
			if err := recount(ctx, tx, aid); err != nil {
				return nil, err
			}
		}
		return nil, nil
	})
	return err
}

// recount recomputes the response counts and type of answered anfrage id
// from the outcomes of its entries.
func recount(ctx context.Context, tx pgx.Tx, id int64) error {
	entries, err := store.AnfrageEntries(ctx, tx, id)
	if err != nil {
		return err
	}
	outcomes := make([]string, len(entries))
	for i, e := range entries {
		outcomes[i] = deref(e.Outcome)
	}
	sum := matching.Classify(outcomes, len(entries))
	return store.SetResponseCounts(ctx, tx, id, store.Response{
		Type: sum.Type, Accepted: sum.Accepted, Rejected: sum.Rejected, NoResponse: sum.NoResponse,
	})
}

// ContactRequest is the legacy Kontaktanfrage: more contacts requested for
// a search.
type ContactRequest struct {
	Count int64
	// Notes, when not empty, are appended to the search's note.
	Notes string
}

// Contacts is the search's requested-contacts counter before and after a
// ContactRequest.
type Contacts struct {
	Before, After int
}

// RequestContacts adds r.Count to the requested-contacts counter of aktiv
// search id and notes it. The count is checked before the search is looked
// up, as the reference does: 400 unless 1 ≤ Count ≤ 100;
// then 404 for an unknown search and 400 for one that is not aktiv.
func (s *Service) RequestContacts(ctx context.Context, id int64, r ContactRequest) (Contacts, error) {
	switch {
	case r.Count <= 0:
		return Contacts{}, fault.Invalidf("Requested count must be positive")
	case r.Count > maxRequestedContacts:
		return Contacts{}, fault.Invalidf("Requested count too high (max: %d)", maxRequestedContacts)
	}
	n := int(r.Count)
	now := s.now()
	var c Contacts
	_, err := s.transact(ctx, func(tx pgx.Tx) ([]events.Outgoing, error) {
		cur, err := store.LockSearch(ctx, tx, id)
		if err != nil {
			return nil, err
		}
		if cur.Status != matching.StatusAktiv {
			return nil, fault.Invalidf("Can only request contacts for active searches. Current status: %s", cur.Status)
		}
		text := fmt.Sprintf("Requested %d additional contacts (total: %d)", n, cur.ContactCount+n)
		if r.Notes != "" {
			text += " - " + r.Notes
		}
		notes := matching.AppendNote(cur.Notes, matching.Note(now, matching.AuthorAPI, text))
		c.Before, c.After, err = store.AddContacts(ctx, tx, id, n, notes, now)
		return nil, err
	})
	if err != nil {
		return Contacts{}, err
	}
	return c, nil
}
