package directory

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/curavani/matching/pkg/fault"
	"github.com/curavani/matching/pkg/neighbours"
	"github.com/curavani/matching/pkg/store"
)

// SyncCause is the cause of the re-checks a directory-sync asks for.
const SyncCause = "directory-sync"

// syncBatch is how many records one transaction of a sync stores.
const syncBatch = 200

// Summary is what one directory-sync run did: records checked (therapists
// listed plus patients fetched), copies changed, copies removed (gone from
// the service, or of patients without an open search) and fetches that
// failed (the therapist list counts as one).
type Summary struct {
	Checked, Changed, Removed, Failed int
}

// String is the run's one line: checked=N changed=N removed=N failed=N.
func (s Summary) String() string {
	return fmt.Sprintf("checked=%d changed=%d removed=%d failed=%d", s.Checked, s.Changed, s.Removed, s.Failed)
}

// OK reports whether every fetch succeeded.
func (s Summary) OK() bool { return s.Failed == 0 }

// Sync repairs the copy (directory-sync): it reads every page of the
// therapist list and stores each therapist, removes the copied therapists
// the list no longer has, fetches every patient with an aktiv or pausiert
// search and stores her (or removes her copy on a 404), and deletes the
// copies of patients without an open search and the distances no copy
// needs. Every change asks for a re-check, as an event would. A fetch that
// fails is counted and left for the next run; it removes nothing.
//
// Two runs at once do no harm: each record is stored only over an older
// fetch, and a therapist is removed only if the copy holds no fetch from
// after this run's list was read. A run that read the whole therapist list
// is recorded; from then on the selection list reads the copy alone.
// The error is set only when the database failed; the summary says what
// was done until then.
func (d *Directory) Sync(ctx context.Context) (Summary, error) {
	var sum Summary
	listed, err := d.syncTherapists(ctx, &sum)
	if err != nil {
		return sum, err
	}
	if err := d.syncPatients(ctx, &sum); err != nil {
		return sum, err
	}
	pruned, err := store.PruneCopies(ctx, d.Pool)
	if err != nil {
		return sum, err
	}
	sum.Removed += int(pruned)
	if _, err := store.PruneDistances(ctx, d.Pool); err != nil {
		return sum, err
	}
	if !listed.IsZero() {
		if err := store.RecordSync(ctx, d.Pool, store.SyncRun{StartedAt: listed,
			Checked: sum.Checked, Changed: sum.Changed, Removed: sum.Removed, Failed: sum.Failed}); err != nil {
			return sum, err
		}
	}
	return sum, nil
}

// syncTherapists stores the whole therapist list and removes the copies of
// therapists it lacks. It returns the time the list was asked for, zero
// when it could not be read.
func (d *Directory) syncTherapists(ctx context.Context, sum *Summary) (time.Time, error) {
	at, err := store.DatabaseNow(ctx, d.Pool)
	if err != nil {
		return time.Time{}, err
	}
	list, err := d.Therapists.All(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return time.Time{}, ctx.Err()
		}
		sum.Failed++
		d.log().Warn("directory-sync: therapist list not read; therapists kept as they are", slog.String("error", err.Error()))
		return time.Time{}, nil
	}
	sum.Checked += len(list)
	seen := make(map[int64]bool, len(list))
	fetched := make([]Fetched[neighbours.Therapist], 0, len(list))
	for _, t := range list {
		seen[t.ID] = true
		fetched = append(fetched, Fetched[neighbours.Therapist]{ID: t.ID, Record: t, At: at})
	}
	live, err := store.LiveTherapistCopies(ctx, d.Pool)
	if err != nil {
		return time.Time{}, err
	}
	for id := range live {
		if !seen[id] {
			fetched = append(fetched, Fetched[neighbours.Therapist]{ID: id, Gone: true, At: at})
		}
	}
	byID(fetched)
	for start := 0; start < len(fetched); start += syncBatch {
		batch := fetched[start:min(start+syncBatch, len(fetched))]
		err := store.WithTx(ctx, d.Pool, func(tx pgx.Tx) error {
			stored, err := d.StoreTherapists(ctx, tx, batch, SyncCause)
			for i, st := range stored {
				count(sum, batch[i].Gone, st)
			}
			return err
		})
		if err != nil {
			return time.Time{}, err
		}
	}
	return at, nil
}

// syncPatients fetches every patient with an open search, syncBatch at a
// time, and stores each batch in one transaction.
func (d *Directory) syncPatients(ctx context.Context, sum *Summary) error {
	ids, err := store.PatientsWithOpenSearch(ctx, d.Pool)
	if err != nil {
		return err
	}
	for start := 0; start < len(ids); start += syncBatch {
		batch := ids[start:min(start+syncBatch, len(ids))]
		fetched, failed, err := d.fetchPatients(ctx, batch)
		if err != nil {
			return err
		}
		sum.Checked += len(batch)
		sum.Failed += failed
		err = store.WithTx(ctx, d.Pool, func(tx pgx.Tx) error {
			stored, err := d.StorePatients(ctx, tx, fetched, SyncCause)
			for i, st := range stored {
				count(sum, fetched[i].Gone, st)
			}
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// count adds what storing one record did to the summary.
func count(sum *Summary, gone bool, st Stored) {
	switch {
	case !st.Changed:
	case gone:
		sum.Removed++
	default:
		sum.Changed++
	}
}

// fetchPatients fetches the patients of one batch, a bounded number at a
// time, all as of one reading of the database's clock (taken before the
// first request). A fetch that fails is logged and counted; only the
// context ending stops the batch.
func (d *Directory) fetchPatients(ctx context.Context, ids []int64) (out []Fetched[neighbours.Patient], failed int, err error) {
	at, err := store.DatabaseNow(ctx, d.Pool)
	if err != nil {
		return nil, 0, err
	}
	var (
		mu  sync.Mutex
		wg  sync.WaitGroup
		sem = make(chan struct{}, d.concurrency())
	)
	for _, id := range ids {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			p, err := d.Patients.Patient(ctx, id)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case fault.KindOf(err) == fault.NotFound:
				out = append(out, Fetched[neighbours.Patient]{ID: id, Gone: true, At: at})
			case err != nil:
				failed++
				d.log().Warn("directory-sync: patient not fetched; her copy is kept",
					slog.Int64("patient_id", id), slog.String("error", err.Error()))
			default:
				out = append(out, Fetched[neighbours.Patient]{ID: id, Record: p, At: at})
			}
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil, 0, ctx.Err()
	}
	byID(out)
	return out, failed, nil
}

// byID sorts fetched records by id: every transaction that stores several
// copies locks them in id order, so two syncs at once never deadlock.
func byID[T any](list []Fetched[T]) {
	slices.SortFunc(list, func(a, b Fetched[T]) int { return cmp.Compare(a.ID, b.ID) })
}

// SyncJob is the directory-sync function: one Sync, then the re-checks its
// changes asked for. Its main (functions/directory-sync) and the local stack
// run it once; Kubernetes runs the main nightly.
type SyncJob struct {
	Directory *Directory
	// Rechecks applies the waiting re-checks (placement.Service's
	// SweepRechecks with no minimum age) and returns how many; nil skips
	// them (the outbox relay's sweep applies them later).
	Rechecks func(ctx context.Context) (int, error)
	Log      *slog.Logger
}

// Run syncs, logs the summary line and applies the re-checks. The error is
// set when the database failed; a fetch that failed only shows in the
// summary (Summary.OK).
func (j SyncJob) Run(ctx context.Context) (Summary, error) {
	// The run is the cause of what its transactions change (the re-checks
	// of unsent anfragen it applies), in the history and on its log lines.
	ctx = store.WithCause(ctx, store.Cause{Kind: store.CauseJob, Job: SyncCause, RunID: store.NewRunID()})
	log := j.Directory.log()
	if j.Log != nil {
		log = j.Log
	}
	sum, err := j.Directory.Sync(ctx)
	log.InfoContext(ctx, sum.String(), slog.Int("checked", sum.Checked), slog.Int("changed", sum.Changed),
		slog.Int("removed", sum.Removed), slog.Int("failed", sum.Failed))
	if err != nil {
		return sum, fmt.Errorf("directory-sync: %w", err)
	}
	if j.Rechecks != nil {
		n, err := j.Rechecks(ctx)
		if err != nil {
			return sum, fmt.Errorf("directory-sync: re-checks (%d applied): %w", n, err)
		}
		if n > 0 {
			log.InfoContext(ctx, "directory-sync: re-checks applied", slog.Int("applied", n))
		}
	}
	return sum, nil
}
