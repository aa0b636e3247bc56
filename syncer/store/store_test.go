package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zdsync/zdsync/syncer"
	"github.com/zdsync/zdsync/syncer/store"
	"github.com/zdsync/zdsync/syncer/store/storetest"
)

// backend is a database the suite runs against.
type backend struct {
	name string
	// fresh returns the URL and options of a new, empty database that is
	// removed when the test ends.
	fresh func(t *testing.T) (string, []store.Option)
}

// backends returns SQLite always, and Postgres when
// ZDSYNC_TEST_POSTGRES_URL is set (storetest).
func backends() []backend {
	var bs []backend
	for _, name := range storetest.Backends() {
		bs = append(bs, backend{name: name, fresh: func(t *testing.T) (string, []store.Option) {
			d := storetest.SQLite(t)
			if name == store.BackendPostgres {
				d = storetest.Postgres(t)
			}
			return d.URL, d.Options
		}})
	}
	return bs
}

// eachBackend runs fn against a fresh database of every backend.
func eachBackend(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Helper()
	storetest.Each(t, func(t *testing.T, d storetest.Database) { fn(t, d.Open(t)) })
}

func open(t *testing.T, u string, opts ...store.Option) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), u, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

var t0 = time.Date(2025, 3, 4, 5, 6, 7, 123456789, time.UTC)

func TestOpen(t *testing.T) {
	ctx := context.Background()
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Run("opening twice applies the migrations once", func(t *testing.T) {
				u, opts := b.fresh(t)
				db := open(t, u, opts...)
				if db.Backend() != b.name {
					t.Errorf("Backend() = %q, want %q", db.Backend(), b.name)
				}
				if err := db.Ping(ctx); err != nil {
					t.Fatal(err)
				}
				if b.name == store.BackendSQLite {
					var mode string
					if err := db.SQL().QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
						t.Errorf("journal mode = %q, %v; want wal", mode, err)
					}
				}
				v1 := schemaVersion(t, db)
				n1 := migrationRows(t, db)
				db2 := open(t, u, opts...)
				if v2, n2 := schemaVersion(t, db2), migrationRows(t, db2); v1 < 1 || v2 != v1 || n2 != n1 || n1 != migrationFiles(t) {
					t.Errorf("after second Open: version %d rows %d, want version %d rows %d", v2, n2, v1, n1)
				}
			})
			t.Run("replicas opening a new database at once all succeed", func(t *testing.T) {
				u, opts := b.fresh(t)
				const replicas = 8
				dbs := make([]*store.DB, replicas)
				errs := make([]error, replicas)
				var wg sync.WaitGroup
				for i := range replicas {
					wg.Go(func() { dbs[i], errs[i] = store.Open(ctx, u, opts...) })
				}
				wg.Wait()
				for i := range replicas {
					if errs[i] != nil {
						t.Errorf("replica %d: Open: %v", i, errs[i])
						continue
					}
					defer dbs[i].Close()
				}
				if t.Failed() {
					return
				}
				db := dbs[0]
				if n, want := migrationRows(t, db), migrationFiles(t); n != want {
					t.Errorf("schema_migrations has %d rows, want one for each of the %d migrations", n, want)
				}
				if err := db.SetCursor(ctx, "c", "v"); err != nil {
					t.Errorf("the migrated schema is not usable: %v", err)
				}
			})
		})
	}
}

func schemaVersion(t *testing.T, db *store.DB) int {
	t.Helper()
	v, err := db.SchemaVersion(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// migrationFiles counts the migration files of the package.
func migrationFiles(t *testing.T) int {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("migrations", "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations found: %v", err)
	}
	return len(files)
}

func migrationRows(t *testing.T, db *store.DB) int {
	t.Helper()
	var n int
	if err := db.SQL().QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestOpenRejectsABadSchemaName(t *testing.T) {
	_, err := store.Open(context.Background(), "postgres://127.0.0.1:1/x", store.WithSchema("a; drop table x"))
	if err == nil {
		t.Fatal("Open accepted an invalid schema name")
	}
}

// summary returns a full summary of a run, with every field set.
func summary(id string, job syncer.Job, started time.Time) *syncer.Summary {
	return &syncer.Summary{
		RunID: id, Job: job,
		StartedAt: started, FinishedAt: started.Add(2 * time.Second), DurationMS: 2000,
		Fetched: 10, Created: 1, Updated: 2, Deleted: 1, Unchanged: 5, Skipped: 1, Failed: 0,
		Errors: []syncer.RecordError{{Code: syncer.CodeInsufficientAccess, Name: "InsufficientAccessOnCrossReferenceEntity",
			Record: "001000000000001AAA", Message: "no account"}},
		Changes: []syncer.Change{{Action: syncer.Update, Kind: "org", Key: "001000000000001AAA", Name: "Acme", ID: 42,
			Diffs:  []syncer.FieldDiff{{Field: "aar", Before: "1", After: "2"}},
			Org:    &syncer.OrgWrite{ID: 42, Tags: []string{"sub_x"}, Fields: map[string]any{"aar": "2"}},
			Before: json.RawMessage(`{"id":42,"name":"Acme"}`)}},
		APICalls: 7,
		Code:     syncer.CodeNone,
	}
}

func TestRuns(t *testing.T) {
	ctx := context.Background()
	eachBackend(t, func(t *testing.T, db *store.DB) {
		t.Run("a saved run reads back whole", func(t *testing.T) {
			s := summary("run-1", syncer.JobGlobalOrgs, t0)
			s.PlanID, s.Message = "plan-1", "done"
			if err := db.SaveRun(ctx, s); err != nil {
				t.Fatal(err)
			}
			got, err := db.GetRun(ctx, "run-1")
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, s) {
				t.Errorf("GetRun =\n%+v\nwant\n%+v", got, s)
			}
		})
		t.Run("saving a run again replaces it", func(t *testing.T) {
			s := summary("run-1", syncer.JobGlobalOrgs, t0)
			s.Code, s.Message = syncer.CodeConnectionFailed, "refused"
			if err := db.SaveRun(ctx, s); err != nil {
				t.Fatal(err)
			}
			runs, err := db.ListRuns(ctx, syncer.JobGlobalOrgs, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(runs) != 1 || runs[0].Code != syncer.CodeConnectionFailed {
				t.Errorf("ListRuns = %+v, want the one replaced run", runs)
			}
		})
		t.Run("an unknown run is not found", func(t *testing.T) {
			if _, err := db.GetRun(ctx, "nope"); !errors.Is(err, syncer.ErrNotFound) {
				t.Errorf("GetRun = %v, want ErrNotFound", err)
			}
		})
		t.Run("runs are listed newest first, by job, up to the limit", func(t *testing.T) {
			for i, id := range []string{"run-2", "run-3", "run-4"} {
				if err := db.SaveRun(ctx, summary(id, syncer.JobGlobalOrgs, t0.Add(time.Duration(i+1)*time.Hour))); err != nil {
					t.Fatal(err)
				}
			}
			if err := db.SaveRun(ctx, summary("fed-1", syncer.JobFederalOrgs, t0.Add(10*time.Hour))); err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct {
				job   syncer.Job
				limit int
				want  []string
			}{
				{syncer.JobGlobalOrgs, 2, []string{"run-4", "run-3"}},
				{syncer.JobGlobalOrgs, 0, []string{"run-4", "run-3", "run-2", "run-1"}},
				{syncer.JobFederalOrgs, 10, []string{"fed-1"}},
				{"", 2, []string{"fed-1", "run-4"}},
				{syncer.JobCases, 10, nil},
			} {
				runs, err := db.ListRuns(ctx, tc.job, tc.limit)
				if err != nil {
					t.Fatal(err)
				}
				var ids []string
				for _, r := range runs {
					ids = append(ids, r.RunID)
				}
				if !reflect.DeepEqual(ids, tc.want) {
					t.Errorf("ListRuns(%q, %d) = %v, want %v", tc.job, tc.limit, ids, tc.want)
				}
			}
		})
	})
}

func TestLastSuccessfulRun(t *testing.T) {
	ctx := context.Background()
	run := func(id string, hour int, edit func(s *syncer.Summary)) *syncer.Summary {
		s := summary(id, syncer.JobGlobalOrgs, t0.Add(time.Duration(hour)*time.Hour))
		if edit != nil {
			edit(s)
		}
		return s
	}
	tests := []struct {
		name string
		runs []*syncer.Summary
		want string // "" for none
	}{
		{"no run at all is not found", nil, ""},
		{"the newest successful full run is returned", []*syncer.Summary{run("a", 1, nil), run("b", 3, nil), run("c", 2, nil)}, "b"},
		{"dry runs are ignored", []*syncer.Summary{run("a", 1, nil), run("b", 2, func(s *syncer.Summary) { s.DryRun = true })}, "a"},
		{"single-account runs are ignored", []*syncer.Summary{run("a", 1, nil), run("b", 2, func(s *syncer.Summary) { s.Account = "001000000000001AAA" })}, "a"},
		{"failed runs are ignored", []*syncer.Summary{run("a", 1, nil), run("b", 2, func(s *syncer.Summary) { s.Code = syncer.CodeGuardRefused })}, "a"},
		{"a run ended by a silent code counts as successful", []*syncer.Summary{run("a", 1, nil), run("b", 2, func(s *syncer.Summary) { s.Code = syncer.CodeNoCaseID })}, "b"},
		{"runs of other jobs are ignored", []*syncer.Summary{run("a", 1, nil), run("b", 2, func(s *syncer.Summary) { s.Job = syncer.JobFederalOrgs })}, "a"},
		{"only unsuccessful runs is not found", []*syncer.Summary{run("a", 1, func(s *syncer.Summary) { s.Code = syncer.CodeOpenTimeout })}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			eachBackend(t, func(t *testing.T, db *store.DB) {
				for _, s := range tc.runs {
					if err := db.SaveRun(ctx, s); err != nil {
						t.Fatal(err)
					}
				}
				got, ok, err := db.LastSuccessfulRun(ctx, syncer.JobGlobalOrgs)
				if err != nil {
					t.Fatal(err)
				}
				switch {
				case tc.want == "" && ok:
					t.Errorf("LastSuccessfulRun = %s, want none", got.RunID)
				case tc.want != "" && !ok:
					t.Errorf("LastSuccessfulRun found none, want %s", tc.want)
				case tc.want != "" && got.RunID != tc.want:
					t.Errorf("LastSuccessfulRun = %s, want %s", got.RunID, tc.want)
				}
			})
		})
	}
}

func TestChanges(t *testing.T) {
	ctx := context.Background()
	eachBackend(t, func(t *testing.T, db *store.DB) {
		batch1 := []syncer.AppliedChange{
			{Change: syncer.Change{Action: syncer.Create, Kind: "org", Key: "001000000000001AAA", Name: "Acme", ID: 7,
				Org: &syncer.OrgWrite{ExternalID: "001000000000001AAA", Name: "Acme", Tags: []string{"sub_a"}, Fields: map[string]any{"aar": "1"}}},
				At: t0},
			{Change: syncer.Change{Action: syncer.Update, Kind: "org", Key: "001000000000002AAA", ID: 8, Reason: "fields changed",
				Diffs:  []syncer.FieldDiff{{Field: "support_level", Before: "basic", After: "premium"}},
				Org:    &syncer.OrgWrite{ID: 8, Fields: map[string]any{"support_level": "premium"}},
				Before: json.RawMessage(`{"id":8,"organization_fields":{"support_level":"basic"}}`)},
				At: t0.Add(time.Second), Code: syncer.CodeItemFailed, Message: "Name: has already been taken"},
		}
		batch2 := []syncer.AppliedChange{
			{Change: syncer.Change{Action: syncer.Create, Kind: "user", Key: "a@example.com", Parent: "001000000000001AAA",
				User: &syncer.UserWrite{Email: "a@example.com", Name: "A", OrgID: 7}},
				At: t0.Add(2 * time.Second)},
			{Change: syncer.Change{Action: syncer.Delete, Kind: "org", Key: "001000000000003AAA", ID: 9,
				Before: json.RawMessage(`{"id":9}`)},
				At: t0.Add(3 * time.Second)},
		}
		t.Run("recorded changes read back whole and in order across batches", func(t *testing.T) {
			if err := db.RecordChanges(ctx, "run-1", batch1); err != nil {
				t.Fatal(err)
			}
			if err := db.RecordChanges(ctx, "run-2", batch1[:1]); err != nil {
				t.Fatal(err)
			}
			if err := db.RecordChanges(ctx, "run-1", batch2); err != nil {
				t.Fatal(err)
			}
			got, err := db.Changes(ctx, "run-1")
			if err != nil {
				t.Fatal(err)
			}
			want := append(append([]syncer.AppliedChange{}, batch1...), batch2...)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Changes =\n%+v\nwant\n%+v", got, want)
			}
		})
		t.Run("an empty batch records nothing", func(t *testing.T) {
			if err := db.RecordChanges(ctx, "run-3", nil); err != nil {
				t.Fatal(err)
			}
			if got, err := db.Changes(ctx, "run-3"); err != nil || len(got) != 0 {
				t.Errorf("Changes = %v, %v; want none", got, err)
			}
		})
	})
}

func newPlan(id string) *syncer.StoredPlan {
	return &syncer.StoredPlan{
		ID: id, Job: syncer.JobFederalUsers, Account: "001000000000001AAA",
		CreatedAt: t0, ExpiresAt: t0.Add(30 * time.Minute), CreatedBy: "U123", Fingerprint: "sha256:abc",
		Changes: []syncer.Change{{Action: syncer.Create, Kind: "user", Key: "a@example.com",
			User: &syncer.UserWrite{Email: "a@example.com", Name: "A", OrgID: 7}}},
	}
}

func TestPlans(t *testing.T) {
	ctx := context.Background()
	eachBackend(t, func(t *testing.T, db *store.DB) {
		t.Run("a saved plan reads back whole", func(t *testing.T) {
			p := newPlan("p-read")
			if err := db.SavePlan(ctx, p); err != nil {
				t.Fatal(err)
			}
			got, err := db.GetPlan(ctx, "p-read")
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, p) {
				t.Errorf("GetPlan =\n%+v\nwant\n%+v", got, p)
			}
		})
		t.Run("a plan ID cannot be saved twice", func(t *testing.T) {
			if err := db.SavePlan(ctx, newPlan("p-read")); err == nil {
				t.Error("SavePlan saved a second plan with the same ID")
			}
		})
		t.Run("an unknown plan is not found", func(t *testing.T) {
			if _, err := db.GetPlan(ctx, "nope"); !errors.Is(err, syncer.ErrNotFound) {
				t.Errorf("GetPlan = %v, want ErrNotFound", err)
			}
		})
	})

	apply := func(db *store.DB, id string) error {
		return db.MarkPlanApplied(ctx, id, "run-9", "UAPPLIER", t0.Add(time.Minute))
	}
	discard := func(db *store.DB, id string) error { return db.DiscardPlan(ctx, id, "U999", t0.Add(time.Minute)) }
	tests := []struct {
		name    string
		before  func(db *store.DB, id string) error // nil: a new plan
		op      func(db *store.DB, id string) error
		id      string // "" for the saved plan
		wantErr error
		applied bool // afterwards
		discard bool // afterwards
	}{
		{name: "a new plan can be applied", op: apply, applied: true},
		{name: "a plan cannot be applied twice", before: apply, op: apply, wantErr: store.ErrPlanApplied, applied: true},
		{name: "a discarded plan cannot be applied", before: discard, op: apply, wantErr: store.ErrPlanDiscarded, discard: true},
		{name: "a new plan can be discarded", op: discard, discard: true},
		{name: "an applied plan cannot be discarded", before: apply, op: discard, wantErr: store.ErrPlanApplied, applied: true},
		{name: "a plan cannot be discarded twice", before: discard, op: discard, wantErr: store.ErrPlanDiscarded, discard: true},
		{name: "an unknown plan cannot be applied", op: apply, id: "nope", wantErr: syncer.ErrNotFound},
		{name: "an unknown plan cannot be discarded", op: discard, id: "nope", wantErr: syncer.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			eachBackend(t, func(t *testing.T, db *store.DB) {
				if err := db.SavePlan(ctx, newPlan("p")); err != nil {
					t.Fatal(err)
				}
				if tc.before != nil {
					if err := tc.before(db, "p"); err != nil {
						t.Fatal(err)
					}
				}
				id := tc.id
				if id == "" {
					id = "p"
				}
				err := tc.op(db, id)
				if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
					t.Fatalf("error = %v, want %v", err, tc.wantErr)
				}
				if tc.wantErr == store.ErrPlanApplied || tc.wantErr == store.ErrPlanDiscarded {
					if c := syncer.ErrorCode(err); c != syncer.CodePlanStale {
						t.Errorf("error code = %v, want %v", c, syncer.CodePlanStale)
					}
				}
				if tc.wantErr == store.ErrPlanApplied && !strings.Contains(syncer.ErrorMessage(err), "already applied by <@UAPPLIER> at") {
					t.Errorf("the refusal does not say who applied it: %v", err)
				}
				p, err := db.GetPlan(ctx, "p")
				if err != nil {
					t.Fatal(err)
				}
				if applied := !p.AppliedAt.IsZero(); applied != tc.applied || p.Discarded != tc.discard {
					t.Errorf("afterwards applied=%v discarded=%v, want %v %v", applied, p.Discarded, tc.applied, tc.discard)
				}
				if tc.applied && (p.AppliedRun != "run-9" || p.AppliedBy != "UAPPLIER" || !p.AppliedAt.Equal(t0.Add(time.Minute))) {
					t.Errorf("applied in %q by %q at %v, want run-9 by UAPPLIER at %v", p.AppliedRun, p.AppliedBy, p.AppliedAt, t0.Add(time.Minute))
				}

			})
		})
	}

	t.Run("of replicas applying one plan at once only one wins", func(t *testing.T) {
		eachBackend(t, func(t *testing.T, db *store.DB) {
			if err := db.SavePlan(ctx, newPlan("p")); err != nil {
				t.Fatal(err)
			}
			const replicas = 10
			errs := make([]error, replicas)
			var wg sync.WaitGroup
			for i := range replicas {
				wg.Go(func() { errs[i] = db.MarkPlanApplied(ctx, "p", "run-"+string(rune('a'+i)), "U1", t0) })
			}
			wg.Wait()
			wins := 0
			for _, err := range errs {
				switch {
				case err == nil:
					wins++
				case !errors.Is(err, store.ErrPlanApplied):
					t.Errorf("a losing replica got %v, want ErrPlanApplied", err)
				}
			}
			if wins != 1 {
				t.Errorf("%d replicas applied the plan, want 1", wins)
			}
		})
	})
}

func TestCursors(t *testing.T) {
	ctx := context.Background()
	eachBackend(t, func(t *testing.T, db *store.DB) {
		if v, ok, err := db.GetCursor(ctx, "tickets"); err != nil || ok {
			t.Fatalf("GetCursor of an unset cursor = %q, %v, %v; want not found", v, ok, err)
		}
		for _, want := range []string{"abc", "def", ""} {
			if err := db.SetCursor(ctx, "tickets", want); err != nil {
				t.Fatal(err)
			}
			if v, ok, err := db.GetCursor(ctx, "tickets"); err != nil || !ok || v != want {
				t.Errorf("GetCursor = %q, %v, %v; want %q", v, ok, err, want)
			}
		}
		if _, ok, _ := db.GetCursor(ctx, "other"); ok {
			t.Error("setting one cursor set another")
		}
	})
}

func TestCommands(t *testing.T) {
	ctx := context.Background()
	eachBackend(t, func(t *testing.T, db *store.DB) {
		recs := []syncer.CommandRecord{
			{At: t0, User: "U1", Command: "status", Outcome: "ok"},
			{At: t0.Add(time.Minute), User: "U2", Command: "run", Args: "global-orgs --dry-run", Outcome: "ok", Detail: "run-1"},
			{At: t0.Add(2 * time.Minute), User: "U3", Command: "run", Args: "global-orgs", Outcome: "denied", Detail: "not a writer"},
		}
		for _, r := range recs {
			if err := db.RecordCommand(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		got, err := db.ListCommands(ctx, 2)
		if err != nil {
			t.Fatal(err)
		}
		for i := range got {
			if got[i].ID == 0 {
				t.Errorf("command %d has no ID", i)
			}
			got[i].ID = 0
		}
		if want := []syncer.CommandRecord{recs[2], recs[1]}; !reflect.DeepEqual(got, want) {
			t.Errorf("ListCommands(2) =\n%+v\nwant\n%+v", got, want)
		}
		if all, err := db.ListCommands(ctx, 0); err != nil || len(all) != 3 {
			t.Errorf("ListCommands(0) returned %d commands, %v; want 3", len(all), err)
		}
	})
}

func TestAlerts(t *testing.T) {
	ctx := context.Background()
	eachBackend(t, func(t *testing.T, db *store.DB) {
		first := &syncer.Alert{Job: syncer.JobGlobalOrgs, Code: syncer.CodeConnectionFailed, Channel: "C1", TS: "1.0",
			Count: 1, FirstAt: t0, LastAt: t0, RunIDs: []string{"run-1"}}

		t.Run("with no alert, none is open", func(t *testing.T) {
			if a, ok, err := db.OpenAlert(ctx, syncer.JobGlobalOrgs, syncer.CodeConnectionFailed); err != nil || ok {
				t.Fatalf("OpenAlert = %+v, %v, %v; want none", a, ok, err)
			}
		})
		t.Run("a new alert is saved with an ID and reads back whole", func(t *testing.T) {
			if err := db.SaveAlert(ctx, first); err != nil {
				t.Fatal(err)
			}
			if first.ID == 0 {
				t.Fatal("SaveAlert did not set the ID")
			}
			got, ok, err := db.OpenAlert(ctx, syncer.JobGlobalOrgs, syncer.CodeConnectionFailed)
			if err != nil || !ok || !reflect.DeepEqual(got, first) {
				t.Errorf("OpenAlert = %+v, %v, %v; want %+v", got, ok, err, first)
			}
		})
		t.Run("a second open alert for the same job and code is refused", func(t *testing.T) {
			dup := *first
			dup.ID = 0
			if err := db.SaveAlert(ctx, &dup); !errors.Is(err, syncer.ErrAlertOpen) {
				t.Errorf("SaveAlert = %v, want ErrAlertOpen", err)
			}
		})
		t.Run("alerts of another code or job are separate", func(t *testing.T) {
			for _, a := range []*syncer.Alert{
				{Job: syncer.JobGlobalOrgs, Code: syncer.CodeRateLimited, Count: 1, FirstAt: t0.Add(time.Minute), LastAt: t0.Add(time.Minute)},
				{Job: syncer.JobFederalOrgs, Code: syncer.CodeConnectionFailed, Count: 1, FirstAt: t0.Add(2 * time.Minute), LastAt: t0.Add(2 * time.Minute)},
			} {
				if err := db.SaveAlert(ctx, a); err != nil {
					t.Fatal(err)
				}
			}
			open, err := db.OpenAlerts(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(open) != 3 || open[0].ID != first.ID {
				t.Errorf("OpenAlerts = %+v, want 3, oldest first", open)
			}
		})
		t.Run("an open alert is updated in place", func(t *testing.T) {
			first.Count, first.LastAt, first.RunIDs = 2, t0.Add(time.Hour), append(first.RunIDs, "run-2")
			if err := db.SaveAlert(ctx, first); err != nil {
				t.Fatal(err)
			}
			got, _, err := db.OpenAlert(ctx, syncer.JobGlobalOrgs, syncer.CodeConnectionFailed)
			if err != nil || !reflect.DeepEqual(got, first) || got.LastRunID() != "run-2" {
				t.Errorf("OpenAlert = %+v, %v; want %+v", got, err, first)
			}
		})
		t.Run("updating an unknown alert is not found", func(t *testing.T) {
			if err := db.SaveAlert(ctx, &syncer.Alert{ID: 999999, Job: syncer.JobCases, FirstAt: t0, LastAt: t0}); !errors.Is(err, syncer.ErrNotFound) {
				t.Errorf("SaveAlert = %v, want ErrNotFound", err)
			}
		})
		t.Run("resolving a job's alerts returns them and closes only them", func(t *testing.T) {
			at := t0.Add(2 * time.Hour)
			resolved, err := db.ResolveAlerts(ctx, syncer.JobGlobalOrgs, at)
			if err != nil {
				t.Fatal(err)
			}
			if len(resolved) != 2 {
				t.Fatalf("ResolveAlerts resolved %d alerts, want 2", len(resolved))
			}
			for _, a := range resolved {
				if a.Job != syncer.JobGlobalOrgs || !a.ResolvedAt.Equal(at) || a.Open() {
					t.Errorf("resolved alert %+v", a)
				}
			}
			again, err := db.ResolveAlerts(ctx, syncer.JobGlobalOrgs, at)
			if err != nil || len(again) != 0 {
				t.Errorf("resolving again = %v, %v; want nothing", again, err)
			}
			open, err := db.OpenAlerts(ctx)
			if err != nil || len(open) != 1 || open[0].Job != syncer.JobFederalOrgs {
				t.Errorf("OpenAlerts = %+v, %v; want the federal one", open, err)
			}
		})
		t.Run("after resolving, a new alert for the same job and code can open", func(t *testing.T) {
			if _, ok, _ := db.OpenAlert(ctx, syncer.JobGlobalOrgs, syncer.CodeConnectionFailed); ok {
				t.Fatal("the resolved alert is still open")
			}
			next := &syncer.Alert{Job: syncer.JobGlobalOrgs, Code: syncer.CodeConnectionFailed, Count: 1, FirstAt: t0.Add(3 * time.Hour), LastAt: t0.Add(3 * time.Hour)}
			if err := db.SaveAlert(ctx, next); err != nil {
				t.Fatal(err)
			}
			if next.ID == first.ID {
				t.Error("the new alert reused the resolved alert's ID")
			}
		})
		t.Run("reopening a resolved alert while another is open is refused", func(t *testing.T) {
			first.ResolvedAt = time.Time{}
			if err := db.SaveAlert(ctx, first); !errors.Is(err, syncer.ErrAlertOpen) {
				t.Errorf("SaveAlert = %v, want ErrAlertOpen", err)
			}
		})
	})
}

func TestSQLiteFilesAreReadableByTheOwnerOnly(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	t.Run("a new database and its WAL and SHM files are created 0600", func(t *testing.T) {
		path := filepath.Join(dir, "new.db")
		db := open(t, path)
		if err := db.SetCursor(ctx, "c", "v"); err != nil { // a write: the -wal and -shm files exist
			t.Fatal(err)
		}
		checkModes(t, path)
	})
	t.Run("an existing database readable by others is restricted", func(t *testing.T) {
		path := filepath.Join(dir, "old.db")
		db := open(t, path)
		if err := db.SetCursor(ctx, "c", "v"); err != nil {
			t.Fatal(err)
		}
		db.Close()
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			if err := os.Chmod(p, 0o644); err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Fatal(err)
			}
		}
		db = open(t, path)
		if err := db.SetCursor(ctx, "c", "w"); err != nil {
			t.Fatal(err)
		}
		checkModes(t, path)
	})
}

// checkModes checks that the database file at path and its -wal and -shm
// files exist with mode 0600.
func checkModes(t *testing.T, path string) {
	t.Helper()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(p), err)
			continue
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want -rw-------", filepath.Base(p), fi.Mode().Perm())
		}
	}
}
