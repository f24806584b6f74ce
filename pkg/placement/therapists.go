package placement

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/fault"
	"github.com/curavani/matching/pkg/matching"
	"github.com/curavani/matching/pkg/neighbours"
	"github.com/curavani/matching/pkg/store"
)

// checkPrefix validates a PLZ prefix: exactly PLZ_MATCH_DIGITS digits.
func (s *Service) checkPrefix(prefix string) error {
	n := s.cfg.Matching.PLZMatchDigits
	if len(prefix) != n || strings.TrimLeft(prefix, "0123456789") != "" {
		return fault.Invalidf("Invalid PLZ prefix. Must be exactly %d digits.", n)
	}
	return nil
}

// SelectTherapists is the therapist selection list of a PLZ prefix (400
// unless it is PLZ_MATCH_DIGITS digits): the aktiv therapists of the
// prefix that may get an anfrage, one per practice, in contact order
// (matching.SelectTherapists). A therapist's naechster_kontakt_moeglich is
// matching's own cooling date where matching holds one.
func (s *Service) SelectTherapists(ctx context.Context, prefix string) ([]neighbours.Therapist, error) {
	if err := s.checkPrefix(prefix); err != nil {
		return nil, err
	}
	var list []neighbours.Therapist
	var err error
	if d := s.cfg.Directory; d != nil {
		list, err = d.Fetching().ActiveTherapists(ctx, prefix, s.cfg.Therapists)
	} else {
		list, err = s.cfg.Therapists.ActiveInPLZPrefix(ctx, prefix)
	}
	if err != nil {
		return nil, err
	}
	ids := make([]int64, len(list))
	for i, t := range list {
		ids[i] = t.ID
	}
	pending, err := store.PendingTherapists(ctx, s.cfg.Pool, ids)
	if err != nil {
		return nil, err
	}
	cooling, err := store.CoolingDates(ctx, s.cfg.Pool, ids)
	if err != nil {
		return nil, err
	}
	facts := make([]matching.Therapist, len(list))
	records := make(map[int64]neighbours.Therapist, len(list))
	for i := range list {
		applyCooling(&list[i], cooling)
		facts[i] = list[i].Matching()
		records[list[i].ID] = list[i]
	}
	picked := matching.SelectTherapists(facts, pending, cooling, s.today(s.now()))
	out := make([]neighbours.Therapist, len(picked))
	for i, t := range picked {
		out[i] = records[t.ID]
	}
	return out, nil
}

// applyCooling makes matching's own cooling date, where it holds one, the
// therapist's naechster_kontakt_moeglich: matching owns the cooling period
// (a manual override may also end it early), and the therapist service's
// field is only the fallback for therapists matching never set a date for.
func applyCooling(t *neighbours.Therapist, cooling map[int64]string) {
	if d, ok := cooling[t.ID]; ok {
		t.NaechsterKontaktMoeglich = &d
	}
}

// coolingDate is the therapist's effective next-contact date (YYYY-MM-DD) or "".
func coolingDate(t neighbours.Therapist, row *store.Cooling) string {
	if row != nil {
		return row.Date
	}
	if t.NaechsterKontaktMoeglich != nil && len(*t.NaechsterKontaktMoeglich) >= 10 {
		return (*t.NaechsterKontaktMoeglich)[:10]
	}
	return ""
}

// therapist reads a therapist; unknown is 404 "Therapist {id} not found".
func (s *Service) therapist(ctx context.Context, id int64) (neighbours.Therapist, error) {
	t, err := s.cfg.Therapists.Therapist(ctx, id)
	if err != nil && fault.KindOf(err) == fault.NotFound {
		return t, fault.NotFoundf("Therapist %d not found", id).Wrap(err)
	}
	return t, err
}

// composingTherapist reads the therapist an anfrage is composed for: from
// matching's copy when the service has one (fetched and stored when the
// copy lacks it), else from the therapist service. Unknown is 404.
func (s *Service) composingTherapist(ctx context.Context, id int64) (neighbours.Therapist, error) {
	if d := s.cfg.Directory; d != nil {
		return d.Fetching().Therapist(ctx, id)
	}
	return s.therapist(ctx, id)
}

// Cooling is the date from which a therapist may be contacted again.
type Cooling struct {
	// Date is YYYY-MM-DD, or "" when no date is known.
	Date string
	// Set is matching's own row (with its reason and note), or nil when
	// matching never set one and Date is the therapist service's.
	Set *store.Cooling
}

// TherapistCooling reads the date from which therapist id may be contacted
// again: matching's own (with its reason) or, when matching never set one,
// the therapist service's. An unknown therapist is 404.
func (s *Service) TherapistCooling(ctx context.Context, id int64) (Cooling, error) {
	t, err := s.therapist(ctx, id)
	if err != nil {
		return Cooling{}, err
	}
	row, err := store.GetCooling(ctx, s.cfg.Pool, id)
	if err != nil {
		return Cooling{}, err
	}
	return Cooling{Date: coolingDate(t, row), Set: row}, nil
}

// ManualCooling is a cooling period set by hand.
type ManualCooling struct {
	// Until is the first calendar date on which the therapist may be
	// contacted again; its clock time is ignored.
	Until time.Time
	// Note says why (grund); nil for none.
	Note *string
}

// SetCooling sets a manual cooling period for therapist id (404 if unknown)
// and emits cooling.period_started with reason manual. The date replaces
// whatever was set, so a date in the past ends a period early. After the
// commit it is written back to the therapist service when
// THERAPIST_COOLING_WRITEBACK is on.
func (s *Service) SetCooling(ctx context.Context, id int64, c ManualCooling) (Cooling, error) {
	if _, err := s.therapist(ctx, id); err != nil {
		return Cooling{}, err
	}
	now := s.now()
	var row store.Cooling
	ids, err := s.transact(ctx, func(tx pgx.Tx) ([]events.Outgoing, error) {
		var err error
		row, err = store.SetCooling(ctx, tx, id, c.Until.Format(time.DateOnly), c.Note, now)
		if err != nil {
			return nil, err
		}
		return []events.Outgoing{events.NewCoolingPeriodStarted(events.CoolingPeriodStartedData{
			TherapistID: id, NextContactableDate: row.Date, Reason: events.CoolingManual,
		})}, nil
	})
	if err != nil {
		return Cooling{}, err
	}
	s.publish(ctx, ids)
	s.writeBackCooling(ctx, id, row.Date)
	return Cooling{Date: row.Date, Set: &row}, nil
}

// writeBackCooling also writes the date to the therapist service when
// THERAPIST_COOLING_WRITEBACK is on. It runs after the commit and only logs a
// failure: matching's own date is what matching checks.
func (s *Service) writeBackCooling(ctx context.Context, therapistID int64, date string) {
	if !s.cfg.Matching.TherapistCoolingWriteback {
		return
	}
	if err := s.cfg.Therapists.SetNextContact(ctx, therapistID, date); err != nil {
		s.log.Warn("cooling write-back to the therapist service failed",
			"therapist_id", therapistID, "naechster_kontakt_moeglich", date, "error", err.Error())
	}
}
