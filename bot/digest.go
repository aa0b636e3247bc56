package bot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/slack-go/slack"

	"github.com/zdsync/zdsync/syncer"
)

// How the notifier reports incremental runs (README, "Near real time"):
// one every minute per job must not mean one message a minute. A failure
// alerts at once, grouped with the job's other alerts (a repeat edits the
// alert's count in place, without a thread reply every minute); a success
// resolves the alerts incremental runs raised; and the changes are posted
// once an hour, in one digest of every incremental run of the hour,
// rebuilt from the stored runs so that a restart or a new leader loses
// none. A quiet run posts nothing.

// DigestEvery is how often the changes of incremental runs are posted, in
// one digest to the summary channel.
const DigestEvery = time.Hour

// digestCursor names the cursor holding the end of the last digested
// period (RFC 3339).
const digestCursor = "incremental-digest"

// maxAlertRuns bounds the run IDs an alert repeated every minute keeps:
// the first and the latest ones.
const maxAlertRuns = 50

// IncrementalStore is what the notifier needs of the store for
// incremental runs: open alerts resolved one by one, the incremental runs
// of a period, and the cursor of the digest. *store.DB implements it.
type IncrementalStore interface {
	OpenAlerts(ctx context.Context) ([]syncer.Alert, error)
	ResolveAlert(ctx context.Context, id int64, at time.Time) (bool, error)
	IncrementalRuns(ctx context.Context, from, to time.Time) ([]syncer.Summary, error)
	GetCursor(ctx context.Context, name string) (string, bool, error)
	SetCursor(ctx context.Context, name, value string) error
}

// reportIncremental reports an incremental run, with n.mu held: its
// failure alerts at once, its success resolves what incremental runs
// raised, and the digest of the last period goes out when a period has
// ended.
func (n *Notifier) reportIncremental(ctx context.Context, s *syncer.Summary, at time.Time) error {
	st := n.store
	var errs []error
	if code := FailureCode(s); code != syncer.CodeNone {
		errs = append(errs, n.alertIncremental(ctx, s, code, at))
	} else {
		errs = append(errs, n.resolveIncremental(ctx, st, s, at))
	}
	errs = append(errs, n.postDigest(ctx, st, at))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("notify incremental run %s of %s: %w", s.RunID, s.Job, err)
	}
	return nil
}

// alertIncremental raises the alert of a failed incremental run: a new
// one is posted at once; a repeat of an open one updates its message in
// place (count, latest run) without a thread reply.
func (n *Notifier) alertIncremental(ctx context.Context, s *syncer.Summary, code syncer.Code, at time.Time) error {
	post, err := n.repeatInPlace(ctx, s, code, at)
	if post {
		return n.alert(ctx, s, code, at)
	}
	return err
}

// repeatInPlace counts a repeat of the open alert of s's job and code and
// edits its message in place; post is set when there is no message to
// edit (no open alert, or a person deleted it), so it must be posted.
func (n *Notifier) repeatInPlace(ctx context.Context, s *syncer.Summary, code syncer.Code, at time.Time) (post bool, err error) {
	n.alertMu.Lock()
	defer n.alertMu.Unlock()
	a, open, err := n.store.OpenAlert(ctx, s.Job, code)
	if err != nil {
		return false, err
	}
	if !open || a.TS == "" {
		return true, nil
	}
	if a, err = n.store.RepeatAlert(ctx, a.ID, s.RunID, at, maxAlertRuns); errors.Is(err, syncer.ErrNotFound) {
		return true, nil // resolved meanwhile
	} else if err != nil {
		return false, err
	}
	err = n.p.at(PriorityAlert).update(ctx, a.Channel, a.TS, RenderAlert(alertView(a, s)))
	if messageGone(err) {
		return true, nil // deleted by a person: posted again
	}
	return false, err
}

// resolveIncremental resolves the job's open alerts that incremental runs
// raised (their latest run was incremental), and its Behind alert: the
// job's changes reach Zendesk again. A full run's alerts wait for a full
// run.
func (n *Notifier) resolveIncremental(ctx context.Context, st NotifierStore, s *syncer.Summary, at time.Time) error {
	open, err := st.OpenAlerts(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, a := range open {
		if a.Job != s.Job {
			continue
		}
		latest, err := st.GetRun(ctx, a.LastRunID())
		if a.Code != syncer.CodeBehind && (err != nil || latest.Incremental == nil) {
			continue
		}
		if done, err := st.ResolveAlert(ctx, a.ID, at); err != nil || !done {
			errs = append(errs, err)
			continue
		}
		if latest == nil {
			latest = &syncer.Summary{Job: a.Job, RunID: a.LastRunID()}
		}
		errs = append(errs, n.showResolved(ctx, &a, latest, at, s.RunID))
	}
	return errors.Join(errs...)
}

// postDigest posts the digest of the incremental runs that finished since
// the last digest, once a period of DigestEvery has ended (at most once a
// period, whichever replica reports), and nothing when none changed
// anything. The first report only starts the count.
func (n *Notifier) postDigest(ctx context.Context, st NotifierStore, at time.Time) error {
	end := at.UTC().Truncate(DigestEvery)
	last, ok, err := st.GetCursor(ctx, digestCursor)
	if err != nil {
		return err
	}
	from, perr := time.Parse(time.RFC3339, last)
	switch {
	case !ok || perr != nil:
		return st.SetCursor(ctx, digestCursor, end.Format(time.RFC3339))
	case !from.Before(end):
		return nil
	}
	runs, err := st.IncrementalRuns(ctx, from, end)
	if err != nil {
		return err
	}
	if len(runs) > 0 {
		m, files := RenderDigest(from, end, runs)
		p := n.p.at(PrioritySummary)
		ts, err := p.post(ctx, n.summaryChannel, "", m)
		if err != nil {
			return err // the next report tries again
		}
		for _, f := range files {
			if err := p.upload(ctx, n.summaryChannel, ts, f); err != nil {
				n.log.WarnContext(ctx, "attach digest CSV", "file", f.Name, "err", err)
			}
		}
	}
	return st.SetCursor(ctx, digestCursor, end.Format(time.RFC3339))
}

// digestJob is what the digest counts of one job's incremental runs.
type digestJob struct {
	job                                     syncer.Job
	runs, created, updated, skipped, failed int
	changes                                 []syncer.Change
	errs                                    []syncer.RecordError
}

// RenderDigest renders the digest of the incremental runs that finished
// from from to to: counts by job, the first changes before → after
// (syncer.DescribeChange), and one CSV of every change and record error
// per job (syncer.WriteCSV), returned beside the message.
func RenderDigest(from, to time.Time, runs []syncer.Summary) (Message, []*File) {
	var jobs []*digestJob
	total := &digestJob{}
	for _, s := range runs {
		i := slices.IndexFunc(jobs, func(j *digestJob) bool { return j.job == s.Job })
		if i < 0 {
			jobs = append(jobs, &digestJob{job: s.Job})
			i = len(jobs) - 1
		}
		for _, d := range []*digestJob{jobs[i], total} {
			d.runs++
			d.created += s.Created
			d.updated += s.Updated
			d.skipped += s.Skipped
			d.failed += s.Failed
		}
		for _, c := range s.Changes {
			if c.Action != syncer.Skip && !c.AfterUsers {
				total.changes = append(total.changes, c)
			}
		}
		jobs[i].changes = append(jobs[i].changes, s.Changes...)
		jobs[i].errs = append(jobs[i].errs, recordErrors(s.Errors)...)
	}
	slices.SortStableFunc(jobs, func(a, b *digestJob) int { return jobOrder(a.job) - jobOrder(b.job) })
	period := from.UTC().Format("2006-01-02 15:04") + "–" + to.UTC().Format("15:04 UTC")
	title := fmt.Sprintf("🔄 Near-real-time sync, %s: %d created, %d updated", period, total.created, total.updated)
	if total.failed > 0 {
		title += fmt.Sprintf(", %d failed", total.failed)
	}
	var lines []string
	var files []*File
	for _, j := range jobs {
		runs := "1 run"
		if j.runs != 1 {
			runs = fmt.Sprintf("%d runs", j.runs)
		}
		lines = append(lines, fmt.Sprintf("• `%s` — %s that changed something: %d created, %d updated, %d skipped, %d failed",
			j.job, runs, j.created, j.updated, j.skipped, j.failed))
		name := "incremental-" + string(j.job) + "-" + from.UTC().Format("2006-01-02T15-04") + ".csv"
		files = append(files, csvFile(name, "Incremental changes of "+string(j.job)+", "+period, j.changes, j.errs))
	}
	byJob, _ := listSection("*By job*", lines, len(lines), "")
	blocks := []slack.Block{header(title), byJob}
	if len(total.changes) > 0 {
		changes := make([]string, len(total.changes))
		for i, c := range total.changes {
			changes[i] = ChangeLine(c)
		}
		b, _ := listSection("*First changes*", changes, MaxListedChanges, " (all in the attached CSVs)")
		blocks = append(blocks, b)
	}
	blocks = append(blocks, contextBlock("Incremental runs carry Salesforce's changes over as they happen; this digest rolls up an hour of them",
		"every change and error is in the attached CSV of its job"))
	return Message{Text: title, Blocks: blocks}, files
}
