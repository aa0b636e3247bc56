package bot

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/zdsync/zdsync/syncer"
)

// StatusStore keeps the quiet-runs status message of a channel: its
// counts, its ts, and the claims by which one replica posts it and at most
// one edits it per StatusEditInterval. *store.DB satisfies it.
type StatusStore interface {
	CountQuietRun(ctx context.Context, channel string, q syncer.QuietRun, now time.Time) error
	EndQuietRuns(ctx context.Context, channel string, job syncer.Job, now time.Time) error
	QuietRuns(ctx context.Context, channel string) ([]syncer.QuietRun, error)
	ClaimStatusPost(ctx context.Context, channel string, now time.Time, ttl time.Duration) (bool, error)
	ReleaseStatusPost(ctx context.Context, channel string) error
	SetStatusMessage(ctx context.Context, channel, ts string, shown time.Time) error
	ClaimStatusEdit(ctx context.Context, channel string, now, notBefore time.Time) (ts string, ok bool, err error)
	StatusShown(ctx context.Context, channel, ts string, shown time.Time) error
	ForgetStatusMessage(ctx context.Context, channel, ts string) error
}

// StatusEditInterval is how often, at most, the quiet-runs status message
// is edited, across all replicas: quiet runs in between (a burst of case
// pushes) only add to its counts in the database, and the next edit shows
// them all. chat.update is a Tier 3 method (Tier3PerMinute), shared with
// the alerts.
const StatusEditInterval = time.Minute

// statusCheck is how often Run looks for counts that the status message
// does not show yet, and how often a quiet run tries an edit itself.
const statusCheck = StatusEditInterval / 4

// statusPostClaim is how long a replica's claim to post the status message
// holds: if it dies before posting, another posts after this.
const statusPostClaim = 30 * time.Second

// quietRun counts a quiet run in the database and, unless this process
// tried within statusCheck, edits (or first posts) the status message if
// it may.
func (n *Notifier) quietRun(ctx context.Context, s *syncer.Summary, at time.Time) error {
	q := syncer.QuietRun{Job: s.Job, Last: at, RunID: s.RunID}
	for _, sc := range s.SilentCounts() {
		q.Silent += sc.Count
	}
	now := n.now()
	if err := n.store.CountQuietRun(ctx, n.summaryChannel, q, now); err != nil {
		return err
	}
	n.mu.Lock()
	due := !n.posted || !now.Before(n.tried.Add(statusCheck))
	n.mu.Unlock()
	if !due {
		return nil // Run shows it within StatusEditInterval
	}
	return n.flushStatus(ctx, true)
}

// FlushStatus edits the quiet-runs status message if its counts changed
// since it was last edited and StatusEditInterval has passed since then,
// on whichever replica claims the edit first.
func (n *Notifier) FlushStatus(ctx context.Context) error {
	return n.flushStatus(ctx, false)
}

// flushStatus edits the status message when this replica may; with post,
// it posts the message when there is none yet.
func (n *Notifier) flushStatus(ctx context.Context, post bool) error {
	now := n.now()
	n.mu.Lock()
	n.tried = now
	posted := n.posted
	n.mu.Unlock()
	ch := n.summaryChannel
	ts, ok, err := n.store.ClaimStatusEdit(ctx, ch, now, now.Add(-StatusEditInterval))
	switch {
	case err != nil:
		return err
	case ok:
		m, err := n.quietMessage(ctx)
		if err == nil {
			err = n.p.at(PriorityStatus).update(ctx, ch, ts, m)
		}
		if err == nil {
			return n.store.StatusShown(ctx, ch, ts, now)
		}
		if !messageGone(err) {
			return err
		}
		n.log.WarnContext(ctx, "quiet-runs message is gone; posting a new one")
		if err := n.store.ForgetStatusMessage(ctx, ch, ts); err != nil {
			return err
		}
	case !post || posted:
		return nil
	}
	claimed, err := n.store.ClaimStatusPost(ctx, ch, now, statusPostClaim)
	if err != nil || !claimed {
		n.mu.Lock()
		n.posted = err == nil // it exists, or another replica is posting it
		n.mu.Unlock()
		return err
	}
	m, err := n.quietMessage(ctx)
	if err == nil {
		ts, err = n.p.at(PriorityStatus).post(ctx, ch, "", m)
	}
	if err != nil {
		return errors.Join(err, n.store.ReleaseStatusPost(context.WithoutCancel(ctx), ch))
	}
	n.mu.Lock()
	n.posted = true
	n.mu.Unlock()
	return n.store.SetStatusMessage(ctx, ch, ts, now)
}

// quietMessage renders the status message from the counts in the store.
func (n *Notifier) quietMessage(ctx context.Context) (Message, error) {
	runs, err := n.store.QuietRuns(ctx, n.summaryChannel)
	if err != nil {
		return Message{}, err
	}
	slices.SortFunc(runs, func(a, b syncer.QuietRun) int { return jobOrder(a.Job) - jobOrder(b.Job) })
	return RenderQuiet(runs), nil
}

func jobOrder(j syncer.Job) int {
	order := []syncer.Job{syncer.JobGlobalOrgs, syncer.JobFederalOrgs, syncer.JobFederalUsers, syncer.JobCaseSweep, syncer.JobCases}
	if i := slices.Index(order, j); i >= 0 {
		return i
	}
	return len(order)
}
