package app

import (
	"context"
	"errors"
	"slices"

	"github.com/zdsync/zdsync/syncer"
)

// History is what the on-call tools read of the store. *store.DB
// implements it.
type History interface {
	GetRun(ctx context.Context, runID string) (*syncer.Summary, error)
	UndoRuns(ctx context.Context, runID string) ([]syncer.Summary, error)
	RecordHistory(ctx context.Context, key string, limit int) ([]syncer.HistoryEntry, int, error)
	ZendeskHistory(ctx context.Context, id int64, limit int) ([]syncer.HistoryEntry, int, error)
	RunHistory(ctx context.Context, runID string, limit int) ([]syncer.HistoryEntry, int, error)
	CommandsAbout(ctx context.Context, arg string, limit int) ([]syncer.CommandRecord, error)
}

// RecentChanges is how many of an account's last audited changes explain
// shows.
const RecentChanges = 5

// History answers `zdsync history` and /zdsync history (README,
// "History"): for an account, its org's and users' audited changes; for a
// Zendesk ID, those of the org or user that has it, and the case pushes of
// the ticket that has it; for a run, its summary, its changes and the runs
// that undid it; with the commands people ran about it. At most limit
// changes (the newest; a run's first) and limit pushes and commands (0:
// all), in time order.
func (c *Core) History(ctx context.Context, arg string, limit int) (*syncer.History, error) {
	sub, err := syncer.ParseSubject(arg)
	if err != nil {
		return nil, err
	}
	h := &syncer.History{Subject: sub, Changes: []syncer.HistoryEntry{}}
	switch sub.Kind {
	case syncer.SubjectRun:
		run, err := c.Store.GetRun(ctx, sub.Value)
		if errors.Is(err, syncer.ErrNotFound) {
			return nil, syncer.Errorf(syncer.CodeNotFound, "no run %s is recorded", sub.Value)
		}
		if err != nil {
			return nil, err
		}
		h.Run = run
		undos, err := c.Store.UndoRuns(ctx, sub.Value)
		if err != nil {
			return nil, err
		}
		for _, u := range undos {
			h.UndoneBy = append(h.UndoneBy, u.RunID)
		}
		if h.Changes, h.More, err = c.Store.RunHistory(ctx, sub.Value, limit); err != nil {
			return nil, err
		}
	case syncer.SubjectAccount:
		if h.Changes, h.More, err = c.Store.RecordHistory(ctx, sub.Value, limit); err != nil {
			return nil, err
		}
	case syncer.SubjectZendesk:
		if h.Changes, h.More, err = c.Store.ZendeskHistory(ctx, sub.ZendeskID, limit); err != nil {
			return nil, err
		}
		if h.Pushes, err = c.Store.PushHistory(ctx, sub.ZendeskID); err != nil {
			return nil, err
		}
		if limit > 0 && len(h.Pushes) > limit {
			h.Pushes = h.Pushes[len(h.Pushes)-limit:]
		}
	}
	if h.Commands, err = c.Store.CommandsAbout(ctx, sub.Value, limit); err != nil {
		return nil, err
	}
	return h, nil
}

// Explain answers `zdsync explain` and /zdsync explain (README, "Explain")
// for a Salesforce account ID or the Zendesk ID of an org of the sync:
// read live, with the account's last audited changes. It writes nothing.
func (c *Core) Explain(ctx context.Context, arg string, jobs []syncer.Job) *syncer.Explanation {
	id, err := c.explained(ctx, arg)
	if err != nil {
		return &syncer.Explanation{Account: arg, Code: syncer.ErrorCode(err), Message: syncer.ErrorMessage(err), Recent: []syncer.HistoryEntry{}}
	}
	ex := c.Runner.Explain(ctx, id, jobs)
	if ex.Code == syncer.CodeNone {
		if recent, _, err := c.Store.RecordHistory(ctx, id, RecentChanges); err == nil {
			ex.Recent = recent
		} else {
			ex.Message = "the audit could not be read: " + err.Error()
		}
	}
	return ex
}

// explained returns the account ID an explain argument names: an account
// ID, or the Zendesk ID of an org whose external_id is one (read from
// Zendesk Global, then US Federal; an org deleted since, from the audit).
func (c *Core) explained(ctx context.Context, arg string) (string, error) {
	sub, err := syncer.ParseSubject(arg)
	if err != nil {
		return "", err
	}
	switch sub.Kind {
	case syncer.SubjectAccount:
		return sub.Value, nil
	case syncer.SubjectRun:
		return "", syncer.Errorf(syncer.CodeInvalidInput, "explain takes a Salesforce account ID or a Zendesk org ID, not a run ID: try history %s", sub.Value)
	}
	for _, zd := range []syncer.Zendesk{c.Runner.Global, c.Runner.Federal} {
		if zd == nil {
			continue
		}
		o, err := zd.GetOrg(ctx, sub.ZendeskID)
		switch {
		case err == nil && syncer.IsAccountID(o.ExternalID):
			return o.ExternalID, nil
		case err == nil:
			return "", syncer.Errorf(syncer.CodeInvalidInput, "org %d is not the sync's: its external_id %q is not a Salesforce account ID", o.ID, o.ExternalID)
		case !errors.Is(err, syncer.ErrNotFound):
			return "", err
		}
	}
	changes, _, err := c.Store.ZendeskHistory(ctx, sub.ZendeskID, 1)
	if err == nil {
		if i := slices.IndexFunc(changes, func(e syncer.HistoryEntry) bool { return e.Kind == "org" }); i >= 0 {
			return changes[i].Key, nil
		}
	}
	return "", syncer.Errorf(syncer.CodeNotFound, "no org has the Zendesk ID %d, and the audit knows none", sub.ZendeskID)
}
