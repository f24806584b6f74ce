package directory

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/curavani/matching/pkg/fault"
	"github.com/curavani/matching/pkg/matching"
	"github.com/curavani/matching/pkg/neighbours"
	"github.com/curavani/matching/pkg/store"
)

// ErrMissing is in the chain of the error a View of a transaction returns
// when the copy lacks a record or a distance: the caller fetches it with a
// View of the pool before the transaction and tries again.
var ErrMissing = errors.New("directory: not in the copy yet")

// View reads the copy through one database handle.
type View struct {
	d  *Directory
	db store.DB
	// fetch: what the copy lacks is fetched from the services and stored.
	fetch bool
}

// Fetching is a view of the pool that fetches (and stores) what the copy
// lacks. Never use it inside a transaction.
func (d *Directory) Fetching() View { return View{d: d, db: d.Pool, fetch: true} }

// Local is a view of tx that calls no service: what the copy lacks is an
// ErrMissing error.
func (d *Directory) Local(tx pgx.Tx) View { return View{d: d, db: tx} }

// Patients returns the copied patients of ids. A patient the service no
// longer has (a removed copy, or a 404 on fetching) is left out.
func (v View) Patients(ctx context.Context, ids []int64) (map[int64]neighbours.Patient, error) {
	if len(ids) == 0 {
		return map[int64]neighbours.Patient{}, nil
	}
	copies, err := store.PatientCopies(ctx, v.db, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]neighbours.Patient, len(ids))
	var missing []int64
	seen := make(map[int64]bool, len(ids))
	for _, id := range ids {
		c, ok := copies[id]
		switch {
		case !ok && !seen[id]:
			seen[id] = true
			missing = append(missing, id)
		case !c.Removed:
			out[id] = PatientOf(c)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	if !v.fetch {
		return nil, errorf("patients %v: %w", missing, ErrMissing)
	}
	got, err := neighbours.FetchAll(ctx, missing, v.d.concurrency(), v.d.FetchPatient)
	if err != nil {
		return nil, err
	}
	fetched := make([]Fetched[neighbours.Patient], 0, len(got))
	for _, f := range got {
		fetched = append(fetched, f)
	}
	if err := v.d.storeFetched(ctx, fetched, nil); err != nil {
		return nil, err
	}
	for _, f := range fetched {
		if !f.Gone {
			out[f.ID] = f.Record
		}
	}
	return out, nil
}

// Therapist returns the copied therapist id; one the service does not have
// is a fault.NotFound "Therapist {id} not found".
func (v View) Therapist(ctx context.Context, id int64) (neighbours.Therapist, error) {
	copies, err := store.TherapistCopies(ctx, v.db, []int64{id})
	if err != nil {
		return neighbours.Therapist{}, err
	}
	c, ok := copies[id]
	switch {
	case ok && c.Removed:
		return neighbours.Therapist{}, fault.NotFoundf("Therapist %d not found", id)
	case ok:
		return therapistOf(c), nil
	case !v.fetch:
		return neighbours.Therapist{}, errorf("therapist %d: %w", id, ErrMissing)
	}
	f, err := v.d.FetchTherapist(ctx, id)
	if err != nil {
		return neighbours.Therapist{}, err
	}
	if err := v.d.storeFetched(ctx, nil, []Fetched[neighbours.Therapist]{f}); err != nil {
		return neighbours.Therapist{}, err
	}
	if f.Gone {
		return neighbours.Therapist{}, fault.NotFoundf("Therapist %d not found", id)
	}
	return f.Record, nil
}

// ActiveTherapists lists the therapists with status aktiv whose PLZ starts
// with prefix, in id order. Once a directory-sync has read the whole
// therapist list, the copy holds every therapist and answers alone; until
// then the list comes from the therapist service (and what it lists is
// stored), since the copy cannot know whom it lacks.
func (v View) ActiveTherapists(ctx context.Context, prefix string, remote neighbours.Therapists) ([]neighbours.Therapist, error) {
	synced, err := store.DirectorySynced(ctx, v.db)
	if err != nil {
		return nil, err
	}
	if !synced {
		if !v.fetch {
			return nil, errorf("therapists of %s: %w", prefix, ErrMissing)
		}
		at, err := store.DatabaseNow(ctx, v.db)
		if err != nil {
			return nil, err
		}
		list, err := remote.ActiveInPLZPrefix(ctx, prefix)
		if err != nil {
			return nil, err
		}
		// Those the copy lacks are stored; the others are kept current by
		// their events, and storing the whole list on every request would
		// cost a write per therapist until the first sync.
		ids := make([]int64, len(list))
		for i, t := range list {
			ids[i] = t.ID
		}
		copied, err := store.TherapistCopies(ctx, v.db, ids)
		if err != nil {
			return nil, err
		}
		var fetched []Fetched[neighbours.Therapist]
		for _, t := range list {
			if _, ok := copied[t.ID]; !ok {
				fetched = append(fetched, Fetched[neighbours.Therapist]{ID: t.ID, Record: t, At: at})
			}
		}
		if err := v.d.storeFetched(ctx, nil, fetched); err != nil {
			return nil, err
		}
		return list, nil
	}
	copies, err := store.ActiveTherapistCopies(ctx, v.db, prefix)
	if err != nil {
		return nil, err
	}
	out := make([]neighbours.Therapist, len(copies))
	for i, c := range copies {
		out[i] = therapistOf(c)
	}
	return out, nil
}

// Distances returns the distance of every trip, from the distance table; a
// view of the pool asks the geocoding service for the trips the table does
// not hold and stores the answers (one that cannot compute a distance is
// stored as unknown; an outage is an error and stores nothing).
func (v View) Distances(ctx context.Context, trips []matching.Trip) (map[matching.Trip]matching.Distance, error) {
	keys := make([]store.Trip, 0, len(trips))
	for _, t := range trips {
		keys = append(keys, store.Trip(t))
	}
	known, err := store.Distances(ctx, v.db, keys)
	if err != nil {
		return nil, err
	}
	out := make(map[matching.Trip]matching.Distance, len(trips))
	var missing []matching.Trip
	for _, t := range trips {
		if d, ok := known[store.Trip(t)]; ok {
			out[t] = matching.Distance(d)
		} else if _, asked := out[t]; !asked {
			out[t] = matching.Distance{} // until the answer comes
			missing = append(missing, t)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	if !v.fetch {
		return nil, errorf("%d distances: %w", len(missing), ErrMissing)
	}
	got, err := v.d.geocode(ctx, missing)
	if err != nil {
		return nil, err
	}
	for t, d := range got {
		out[t] = d
	}
	return out, nil
}

// geocode asks the geocoding service for the trips, a bounded number at a
// time, and stores each answer as it comes (no transaction: each is one
// statement).
func (d *Directory) geocode(ctx context.Context, trips []matching.Trip) (map[matching.Trip]matching.Distance, error) {
	idx := make([]int64, len(trips))
	for i := range trips {
		idx[i] = int64(i)
	}
	got, err := neighbours.FetchAll(ctx, idx, d.concurrency(), func(ctx context.Context, i int64) (matching.Distance, error) {
		t := trips[i]
		km, ok, err := d.Distances.DistanceKM(ctx, neighbours.DistanceQuery{Origin: t.From, Destination: t.To, TravelMode: t.Mode})
		if err != nil {
			return matching.Distance{}, err
		}
		dist := matching.Distance{KM: km, Known: ok}
		return dist, store.PutDistance(ctx, d.Pool, store.Trip(t), store.Distance(dist))
	})
	if err != nil {
		return nil, err
	}
	out := make(map[matching.Trip]matching.Distance, len(trips))
	for i, dist := range got {
		out[trips[i]] = dist
	}
	return out, nil
}
