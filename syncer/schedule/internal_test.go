package schedule

import (
	"context"
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
		{"skipped for the API reserve", syncer.Summary{Code: syncer.CodeAPIReserve}, false},
		{"another federal-orgs run in progress", syncer.Summary{Code: syncer.CodeRunInProgress}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ran []syncer.Job
			sc := &Scheduler{log: slog.New(slog.DiscardHandler),
				run: func(_ context.Context, req syncer.Request) *syncer.Summary {
					ran = append(ran, req.Job)
					if req.Job == syncer.JobFederalOrgs {
						s := tt.orgs
						return &s
					}
					return &syncer.Summary{Job: req.Job}
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
