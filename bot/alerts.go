package bot

import (
	"context"
	"errors"
	"time"

	"github.com/slack-go/slack"

	"github.com/zdsync/zdsync/syncer"
)

// AlertRepeatInterval is how often, at most, a replica replies in an open
// alert's thread and edits its count for repeats of the failure: repeats in
// between (a burst of failing case pushes) only count, in the database, and
// the next reply — a later repeat's, or Run's — says how many there were.
// chat.postMessage allows about one message a second a channel
// (PostMessageInterval).
const AlertRepeatInterval = time.Minute

// alertKey is what alerts are grouped by.
type alertKey struct {
	job  syncer.Job
	code syncer.Code
}

// FailureCode returns the code a run should alert with: the run's own code
// when it failed, else the first non-silent record error's, else
// syncer.CodeNone. Silent codes never alert.
func FailureCode(s *syncer.Summary) syncer.Code {
	if s.Code != syncer.CodeNone && !s.Code.Silent() {
		return s.Code
	}
	return s.FirstFailure()
}

// Alert raises an alert with s's code and message, grouped like the
// others, without a run summary: the freshness alarm (code 14: s.Job has
// not succeeded for too long), resolved by the job's next successful run,
// or a dependency down as serve starts, resolved by Resolve.
func (n *Notifier) Alert(ctx context.Context, s *syncer.Summary) error {
	return n.alert(ctx, s, s.Code, n.now())
}

// Resolve resolves the open alerts of job (a dependency that answers
// again).
func (n *Notifier) Resolve(ctx context.Context, job syncer.Job) error {
	return n.resolve(ctx, &syncer.Summary{Job: job}, n.now())
}

func (n *Notifier) alert(ctx context.Context, s *syncer.Summary, code syncer.Code, at time.Time) error {
	n.alertMu.Lock()
	defer n.alertMu.Unlock()
	p := n.p.at(PriorityAlert)
	a, open, err := n.store.OpenAlert(ctx, s.Job, code)
	if err != nil {
		return err
	}
	if open {
		a, err = n.store.RepeatAlert(ctx, a.ID, s.RunID, at, maxAlertRuns)
		open = !errors.Is(err, syncer.ErrNotFound) // else resolved meanwhile: a new alert
		if open && err != nil {
			return err
		}
	}
	if open {
		view := alertView(a, s)
		key, now := alertKey{s.Job, code}, n.now()
		if a.TS != "" && now.Before(n.shown[key].Add(AlertRepeatInterval)) {
			n.pending[key] = true // shown by a later repeat, or by FlushAlerts
			return nil
		}
		n.shown[key] = now
		delete(n.pending, key)
		if a.TS != "" {
			_, perr := p.post(ctx, a.Channel, a.TS, RenderAlertReply(view))
			uerr := p.update(ctx, a.Channel, a.TS, RenderAlert(view))
			if !messageGone(perr) && !messageGone(uerr) {
				return errors.Join(perr, uerr)
			}
			// Someone deleted the alert: a repeat must not go unseen.
			n.log.WarnContext(ctx, "alert message is gone; posting the alert again", "job", s.Job, "code", int(code))
		}
		// The alert has no message (deleted, or its post failed earlier):
		// post one and adopt it.
		ts, err := n.postAlert(ctx, RenderAlert(view))
		if err != nil {
			return err
		}
		a.Channel, a.TS = n.alertChannel, ts
		return n.store.SaveAlert(ctx, a)
	}
	view := AlertView{Job: s.Job, Code: code, Count: 1, FirstAt: at, LastAt: at, Latest: s}
	ts, err := n.postAlert(ctx, RenderAlert(view))
	if err != nil {
		return err
	}
	n.shown[alertKey{s.Job, code}] = n.now()
	err = n.store.SaveAlert(ctx, &syncer.Alert{Job: s.Job, Code: code, Channel: n.alertChannel, TS: ts, Count: 1,
		FirstAt: at, LastAt: at, RunIDs: []string{s.RunID}})
	if errors.Is(err, syncer.ErrAlertOpen) {
		// Another replica opened it at the same moment; both messages
		// stand, the stored one groups what follows.
		n.log.WarnContext(ctx, "alert opened concurrently", "job", s.Job, "code", int(code))
		return nil
	}
	return err
}

// FlushAlerts shows the repeats of open alerts that only counted (they came
// within AlertRepeatInterval of the alert's last reply on this replica):
// one reply in the alert's thread with the count so far and the latest
// failure, and the alert edited, once the interval has passed.
func (n *Notifier) FlushAlerts(ctx context.Context) error {
	n.alertMu.Lock()
	defer n.alertMu.Unlock()
	now := n.now()
	var errs []error
	for key := range n.pending {
		if now.Before(n.shown[key].Add(AlertRepeatInterval)) {
			continue
		}
		delete(n.pending, key)
		a, open, err := n.store.OpenAlert(ctx, key.job, key.code)
		if err != nil || !open || a.TS == "" {
			errs = append(errs, err)
			continue
		}
		n.shown[key] = now
		view := alertView(a, n.latestRun(ctx, a))
		p := n.p.at(PriorityAlert)
		_, perr := p.post(ctx, a.Channel, a.TS, RenderAlertReply(view))
		errs = append(errs, perr, p.update(ctx, a.Channel, a.TS, RenderAlert(view)))
	}
	return errors.Join(errs...)
}

// postAlert posts m to the alert channel, with its CSV attached in its
// thread, and returns its ts.
func (n *Notifier) postAlert(ctx context.Context, m Message) (string, error) {
	p := n.p.at(PriorityAlert)
	ts, err := p.post(ctx, n.alertChannel, "", m)
	if err != nil {
		return "", err
	}
	if m.CSV != nil {
		if err := p.upload(ctx, n.alertChannel, ts, m.CSV); err != nil {
			n.log.WarnContext(ctx, "attach alert CSV", "err", err)
		}
	}
	return ts, nil
}

// messageGone reports whether err is Slack saying the message or thread
// no longer exists (a person deleted it).
func messageGone(err error) bool {
	var se slack.SlackErrorResponse
	return errors.As(err, &se) && (se.Err == "message_not_found" || se.Err == "thread_not_found")
}

func (n *Notifier) resolve(ctx context.Context, s *syncer.Summary, at time.Time) error {
	n.alertMu.Lock()
	defer n.alertMu.Unlock()
	resolved, err := n.store.ResolveAlerts(ctx, s.Job, at)
	if err != nil {
		return err
	}
	for key := range n.pending {
		if key.job == s.Job {
			delete(n.pending, key)
		}
	}
	var errs []error
	for _, a := range resolved {
		if a.TS != "" {
			errs = append(errs, n.showResolved(ctx, &a, n.latestRun(ctx, &a), at, s.RunID))
		}
	}
	return errors.Join(errs...)
}

// alertView is the view of the stored alert a, latest its newest failed
// run.
func alertView(a *syncer.Alert, latest *syncer.Summary) AlertView {
	return AlertView{Job: a.Job, Code: a.Code, Count: a.Count, FirstAt: a.FirstAt, LastAt: a.LastAt, Latest: latest}
}

// latestRun returns the stored summary of the alert's newest failed run,
// or one that only names it when it is not stored.
func (n *Notifier) latestRun(ctx context.Context, a *syncer.Alert) *syncer.Summary {
	if id := a.LastRunID(); id != "" {
		if got, err := n.store.GetRun(ctx, id); err == nil && got != nil {
			return got
		}
	}
	return &syncer.Summary{Job: a.Job, RunID: a.LastRunID()}
}

// showResolved marks the message of the alert a resolved at at by the run
// resolvedBy; an alert without a message, or whose message a person
// deleted, has nothing to mark.
func (n *Notifier) showResolved(ctx context.Context, a *syncer.Alert, latest *syncer.Summary, at time.Time, resolvedBy string) error {
	if a.TS == "" {
		return nil
	}
	view := alertView(a, latest)
	view.ResolvedAt, view.ResolvedBy = at, resolvedBy
	if err := n.p.at(PriorityAlert).update(ctx, a.Channel, a.TS, RenderAlert(view)); !messageGone(err) {
		return err
	}
	return nil
}
