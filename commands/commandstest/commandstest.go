// Package commandstest has fakes for the tests of code that drives package
// commands (the commands themselves, the Slack bot): an in-memory Auditor
// and a Service that records its calls and answers as it is told.
package commandstest

import (
	"context"
	"fmt"
	"sync"

	"github.com/zdsync/zdsync/syncer"
)

// Audit is an in-memory commands.Auditor. It is safe for concurrent use.
type Audit struct {
	mu   sync.Mutex
	recs []syncer.CommandRecord
}

// RecordCommand records c.
func (a *Audit) RecordCommand(_ context.Context, c syncer.CommandRecord) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.recs = append(a.recs, c)
	return nil
}

// Records returns what was recorded, oldest first.
func (a *Audit) Records() []syncer.CommandRecord {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]syncer.CommandRecord(nil), a.recs...)
}

// Service is a commands.Service that records each call as one line (see
// Describe) and answers runs with Answer. It is safe for concurrent use.
type Service struct {
	// Answer returns the summary of a run; nil answers an empty summary
	// of the request's job.
	Answer func(req syncer.Request) *syncer.Summary
	// Plans are the stored plans Plan returns.
	Plans map[string]*syncer.StoredPlan
	// State is what Status returns.
	State syncer.Status
	// Explanations and Histories are what Explain and History return,
	// by argument.
	Explanations map[string]*syncer.Explanation
	Histories    map[string]*syncer.History

	mu    sync.Mutex
	calls []string
	gate  chan struct{}
}

// Describe is the line a request is recorded as: "account <SFID>
// <global|federal> dry=<bool> by=<user>", "run <job> dry=<bool>
// by=<user>", "retry <ticket> by=<user>", "preview by=<user>", "apply
// <plan> by=<user>" or "undo <run> dry=<bool> by=<user>".
func Describe(req syncer.Request) string {
	switch {
	case req.PlanID != "":
		return fmt.Sprintf("apply %s by=%s", req.PlanID, req.By)
	case req.UndoOf != "":
		return fmt.Sprintf("undo %s dry=%v by=%s", req.UndoOf, req.DryRun, req.By)
	case req.Job == syncer.JobCases:
		return fmt.Sprintf("retry %d by=%s", req.TicketID, req.By)
	case req.SavePlan:
		return "preview by=" + req.By
	case req.Account != "":
		scope := syncer.Global
		if req.Job == syncer.JobFederalOrgs {
			scope = syncer.Federal
		}
		return fmt.Sprintf("account %s %s dry=%v by=%s", req.Account, scope, req.DryRun, req.By)
	}
	return fmt.Sprintf("run %s dry=%v by=%s", req.Job, req.DryRun, req.By)
}

// Hold makes every later call wait until gate is closed (or its context
// ends); a nil gate lets them through.
func (s *Service) Hold(gate chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gate = gate
}

// Calls returns the recorded calls, oldest first.
func (s *Service) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}

func (s *Service) call(ctx context.Context, line string) {
	s.mu.Lock()
	s.calls = append(s.calls, line)
	gate := s.gate
	s.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
		}
	}
}

// Run records the request and answers it.
func (s *Service) Run(ctx context.Context, req syncer.Request) *syncer.Summary {
	s.call(ctx, Describe(req))
	if s.Answer != nil {
		return s.Answer(req)
	}
	return &syncer.Summary{Job: req.Job, DryRun: req.DryRun, Account: req.Account, PlanID: req.PlanID}
}

// Plan returns the plan of Plans, or syncer.ErrNotFound. It is a read: it
// is not recorded.
func (s *Service) Plan(_ context.Context, id string) (*syncer.StoredPlan, error) {
	if p, ok := s.Plans[id]; ok {
		return p, nil
	}
	return nil, syncer.ErrNotFound
}

// DiscardPlan records the discard.
func (s *Service) DiscardPlan(ctx context.Context, id, by string) error {
	s.call(ctx, "discard "+id+" by="+by)
	return nil
}

// Status records the call and returns State.
func (s *Service) Status(ctx context.Context) (syncer.Status, error) {
	s.call(ctx, "status")
	return s.State, nil
}

// Explain records the call and answers from Explanations (by argument),
// else an explanation that the account is not in any query.
func (s *Service) Explain(ctx context.Context, arg string, jobs []syncer.Job) *syncer.Explanation {
	s.call(ctx, fmt.Sprintf("explain %s %v", arg, jobs))
	if ex, ok := s.Explanations[arg]; ok {
		return ex
	}
	ex := &syncer.Explanation{Account: arg}
	for _, j := range jobs {
		ex.Jobs = append(ex.Jobs, syncer.JobExplanation{Job: j, InSync: true})
	}
	return ex
}

// History records the call and answers from Histories (by argument),
// else syncer.ErrNotFound.
func (s *Service) History(ctx context.Context, arg string, limit int) (*syncer.History, error) {
	s.call(ctx, fmt.Sprintf("history %s %d", arg, limit))
	if h, ok := s.Histories[arg]; ok {
		return h, nil
	}
	return nil, syncer.ErrNotFound
}
