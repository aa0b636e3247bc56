package bot

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"

	"github.com/zdsync/zdsync/syncer"
)

// federal-users runs after a federal-orgs run that failed for some records
// only, and not after one that failed as a whole.
func TestFederalUsersRunUnlessFederalOrgsFailedAsAWhole(t *testing.T) {
	tests := []struct {
		name  string
		orgs  syncer.Summary
		users bool
	}{
		{"orgs succeeded", syncer.Summary{Updated: 3}, true},
		{"one org rejected, the rest applied", syncer.Summary{Updated: 3, Unchanged: 40, Failed: 1, Code: syncer.CodeItemFailed}, true},
		{"Salesforce refused the login", syncer.Summary{Code: syncer.CodeAuthFailed}, false},
		{"every org failed", syncer.Summary{Failed: 5, Code: syncer.CodeConnectionFailed}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ran []syncer.Job
			sc := &Scheduler{log: slog.New(slog.NewTextHandler(io.Discard, nil)),
				run: func(_ context.Context, job syncer.Job) (*syncer.Summary, error) {
					ran = append(ran, job)
					if job == syncer.JobFederalOrgs {
						s := tt.orgs
						return &s, nil
					}
					return &syncer.Summary{Job: job}, nil
				}}
			err := sc.runTask(context.Background(), &task{name: "federal", jobs: []syncer.Job{syncer.JobFederalOrgs, syncer.JobFederalUsers}})
			if got := slices.Contains(ran, syncer.JobFederalUsers); got != tt.users {
				t.Errorf("federal-users ran: %v, want %v (runs %v)", got, tt.users, ran)
			}
			if failed := tt.orgs.Code != syncer.CodeNone; (err != nil) != failed {
				t.Errorf("task error %v; the orgs run failed: %v", err, failed)
			}
		})
	}
}
