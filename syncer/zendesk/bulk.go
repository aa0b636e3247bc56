package zendesk

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/zdsync/zdsync/syncer"
)

// Polling of bulk jobs. The goal is one poll a job: the first poll waits a
// time sized to the job (Zendesk processes bulk jobs at tens of records a
// second), later polls back off, and the sum of the waits is bounded by
// Config.JobTimeout.
const (
	pollBase        = time.Second
	pollPerItem     = 20 * time.Millisecond
	maxPollInterval = 10 * time.Second
)

// firstPollWait is how long to wait before polling a job of n records.
func firstPollWait(n int) time.Duration { return pollBase + time.Duration(n)*pollPerItem }

// bulkSpec describes one bulk operation over n records.
type bulkSpec struct {
	op      string // "create org", used in errors
	method  string // POST, PUT or DELETE
	path    string // "/organizations/create_many.json"
	key     string // body key, "" when the records travel as ?ids=
	n       int
	record  func(i int) string // the record's key in errors
	payload func(i int) any    // the record as sent
	ids     []int64            // Zendesk IDs of the records (update, delete)
	emails  []string           // e-mails of the records (users), which their results may name
	// lookup, for creates, returns the records among idx that already
	// exist (by external ID or e-mail) with their IDs: it makes a retry
	// after a lost answer safe.
	lookup func(ctx context.Context, idx []int) (map[int]int64, error)
	// confirm reads back the records among idx (at most one job's) and
	// returns those that hold what was sent, with their IDs (for a
	// delete: those that are gone): how a record a completed job gave no
	// result of its own is settled.
	confirm func(ctx context.Context, idx []int) (map[int]int64, error)
	// single, for the user jobs, writes one record through the per-record
	// endpoint: what the records go through when Zendesk refuses the bulk
	// endpoint (403: bulk user imports not enabled).
	single     *singleSpec
	idempotent bool // POST that may be sent again (create_or_update_many)
	userCreate bool // a failure because the e-mail exists sets Exists
	deleting   bool // "not found" counts as deleted
}

// idOf returns the Zendesk ID of record i: 0 for a create.
func (s bulkSpec) idOf(i int) int64 {
	if s.ids != nil {
		return s.ids[i]
	}
	return 0
}

// runBulk cuts the records into jobs of MaxJobItems, runs them with at most
// Config.MaxJobsInFlight jobs of the client in flight at once, follows each to completion and returns
// one result a record, in input order.
func (c *Client) runBulk(ctx context.Context, s bulkSpec) []syncer.WriteResult {
	res := make([]syncer.WriteResult, s.n)
	if s.idempotent {
		ctx = withIdempotent(ctx)
	}
	sem := c.jobs // shared by every bulk call of the client
	var wg sync.WaitGroup
	for _, idx := range chunks(s.n, MaxJobItems) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if c.runSinglyIfRefused(ctx, s, idx, res) {
				return
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				c.failAll(res, s, idx, classify(s.op, "", ctx.Err()))
				return
			}
			refused := c.runJob(ctx, s, idx, res)
			<-sem
			if refused {
				c.runSinglyIfRefused(ctx, s, idx, res)
			}
		}()
	}
	wg.Wait()
	return res
}

// runJob submits one job of the records idx and records its outcome in res
// (each goroutine writes only its own indexes). It returns true, with
// nothing recorded, when Zendesk refused the bulk endpoint (403) and the
// records have a per-record endpoint to go through instead.
func (c *Client) runJob(ctx context.Context, s bulkSpec, idx []int, res []syncer.WriteResult) (refused bool) {
	pending := idx
	for attempt := 0; ; attempt++ {
		js, err := c.submit(ctx, s, pending)
		if err == nil {
			c.await(ctx, s, pending, js, res)
			return false
		}
		if s.single != nil && syncer.ErrorCode(err) == syncer.CodeNotPermitted && len(pending) == len(idx) {
			c.refuseBulk(s.path, strings.TrimPrefix(syncer.ErrorMessage(err), forbiddenPrefix))
			return true
		}
		if s.lookup == nil || !lostAnswer(err) || attempt >= c.tr.maxRetries {
			c.failAll(res, s, pending, err)
			return false
		}
		// The answer was lost: the job may have run. Treat the records
		// that now exist as created and send only the others again.
		found, lerr := s.lookup(ctx, pending)
		if lerr != nil {
			c.failAll(res, s, pending, err)
			return false
		}
		var rest []int
		for _, i := range pending {
			if id, ok := found[i]; ok {
				res[i] = syncer.WriteResult{ID: id}
			} else {
				rest = append(rest, i)
			}
		}
		if pending = rest; len(pending) == 0 {
			return false
		}
		if serr := c.sleep(ctx, backoff(attempt)); serr != nil {
			c.failAll(res, s, pending, classify(s.op, "", serr))
			return false
		}
	}
}

// submit sends one bulk request and returns the queued job.
func (c *Client) submit(ctx context.Context, s bulkSpec, idx []int) (jobStatus, error) {
	var resp struct {
		JobStatus *jobStatus `json:"job_status"`
	}
	var err error
	if s.key == "" {
		ids := make([]string, 0, len(idx))
		for _, i := range idx {
			ids = append(ids, fmt.Sprint(s.ids[i]))
		}
		err = c.do(ctx, s.op, "", s.method, s.path+"?ids="+strings.Join(ids, ","), nil, &resp)
	} else {
		items := make([]any, 0, len(idx))
		for _, i := range idx {
			items = append(items, s.payload(i))
		}
		body := map[string]any{s.key: items}
		var b []byte
		if s.method == "PUT" {
			b, err = c.api.Put(ctx, s.path, body)
		} else {
			b, err = c.api.Post(ctx, s.path, body)
		}
		if err == nil {
			err = decode(s.op, "", b, &resp)
		} else {
			err = classify(s.op, "", err)
		}
	}
	if err != nil {
		return jobStatus{}, err
	}
	if resp.JobStatus == nil || resp.JobStatus.ID == "" {
		return jobStatus{}, &syncer.Error{Code: syncer.CodeBadResponse, Op: s.op, Message: "the bulk request was answered without a job_status"}
	}
	return *resp.JobStatus, nil
}

// await polls the job until it completes, fails or runs out of time, and
// maps its results onto the records.
func (c *Client) await(ctx context.Context, s bulkSpec, idx []int, js jobStatus, res []syncer.WriteResult) {
	var waited time.Duration
	wait := firstPollWait(len(idx))
	for js.Status == "queued" || js.Status == "working" || js.Status == "" {
		if waited >= c.jobTimeout {
			c.failAll(res, s, idx, &syncer.Error{Code: syncer.CodeOpenTimeout, Op: s.op,
				Message: fmt.Sprintf("bulk job %s was still %s after %s", js.ID, js.Status, c.jobTimeout)})
			return
		}
		if err := c.sleep(ctx, wait); err != nil {
			c.failAll(res, s, idx, classify(s.op, "", err))
			return
		}
		waited += wait
		wait = min(2*wait, maxPollInterval)
		var resp struct {
			JobStatus *jobStatus `json:"job_status"`
		}
		if err := c.get(ctx, s.op, "", "/job_statuses/"+js.ID+".json", &resp); err != nil {
			c.failAll(res, s, idx, err)
			return
		}
		if resp.JobStatus == nil {
			c.failAll(res, s, idx, &syncer.Error{Code: syncer.CodeBadResponse, Op: s.op, Message: "job status answered without a job_status"})
			return
		}
		js = *resp.JobStatus
	}
	switch js.Status {
	case "completed":
		missing := c.mapResults(s, idx, js.Results.items, res)
		c.settleMissing(ctx, s, missing, js.Results.all, res)
	case "failed", "killed":
		msg := "bulk job " + js.ID + " " + js.Status
		if js.Message != "" {
			msg += ": " + string(js.Message)
		}
		c.failAll(res, s, idx, &syncer.Error{Code: syncer.CodeAPIError, Op: s.op, Message: msg})
	default:
		c.failAll(res, s, idx, &syncer.Error{Code: syncer.CodeBadResponse, Op: s.op, Message: "bulk job " + js.ID + " has unknown status " + js.Status})
	}
}

// settleMissing decides the records of a completed job that have no result
// of their own (missing, indexes into res). When the job's results said,
// in the object form, that every record succeeded, an update or delete
// succeeded; otherwise the records are read back (one show_many for the
// lot) and compared with what was sent: a record that holds it (for a
// delete: that is gone) succeeded, the others failed, to be tried again
// by the next run. A record is never declared failed only because its
// result is missing.
func (c *Client) settleMissing(ctx context.Context, s bulkSpec, missing []int, all *bool, res []syncer.WriteResult) {
	if len(missing) == 0 {
		return
	}
	if all != nil && *all && s.lookup == nil {
		for _, i := range missing {
			res[i] = syncer.WriteResult{ID: s.idOf(i)}
		}
		return
	}
	const why = "the bulk job completed without a result for this record"
	if s.confirm == nil {
		for _, i := range missing {
			res[i] = syncer.WriteResult{ID: s.idOf(i), Err: &syncer.Error{Code: syncer.CodeItemFailed, Op: s.op, Record: s.record(i), Message: why}}
		}
		return
	}
	confirmed, err := s.confirm(ctx, missing)
	for _, i := range missing {
		id, ok := confirmed[i]
		switch {
		case err != nil:
			se := classify(s.op, s.record(i), err)
			res[i] = syncer.WriteResult{ID: s.idOf(i), Err: &syncer.Error{Code: se.Code, Op: s.op, Record: s.record(i),
				Message: why + ", and reading it back failed: " + se.Message, Err: se.Err}}
		case ok:
			res[i] = syncer.WriteResult{ID: id}
		default:
			res[i] = syncer.WriteResult{ID: s.idOf(i), Err: &syncer.Error{Code: syncer.CodeItemFailed, Op: s.op, Record: s.record(i),
				Message: why + ", and reading it back shows it was not written"}}
		}
	}
}

// mapResults assigns each result to its record and returns the records
// (indexes into res) that no result is for. A result is for the record
// at its index when it has one; a failed result without an index is for
// the record with its id, else for the record at the position its id
// names (Zendesk keys failures by position); a successful one is for the
// record with its id or e-mail; and when the results are exactly as many
// as the records, the rest go by position in the list.
func (c *Client) mapResults(s bulkSpec, idx []int, results []jobResult, res []syncer.WriteResult) (missing []int) {
	got := placeResults(s, idx, results)
	for pos, i := range idx {
		r, id := got[pos], s.idOf(i)
		switch {
		case r == nil:
			missing = append(missing, i)
		case r.failed() && s.deleting && r.Error == "RecordNotFound":
			res[i] = syncer.WriteResult{ID: id}
		case r.failed():
			// A failed result's id may be a position: the record's own
			// ID (update, delete) is what is reported.
			res[i] = syncer.WriteResult{ID: id, Exists: s.userCreate && emailTaken(r),
				Err: &syncer.Error{Code: syncer.CodeItemFailed, Op: s.op, Record: s.record(i), Message: r.message()}}
		default:
			if r.ID.set && r.ID.n != 0 {
				id = r.ID.n
			}
			res[i] = syncer.WriteResult{ID: id}
		}
	}
	return missing
}

// placeResults returns the result for each record of idx (by position in
// idx; nil where none is), placed as mapResults says.
func placeResults(s bulkSpec, idx []int, results []jobResult) []*jobResult {
	got := make([]*jobResult, len(idx))
	byID := map[int64][]int{}
	if s.ids != nil {
		for pos, i := range idx {
			byID[s.ids[i]] = append(byID[s.ids[i]], pos)
		}
	}
	byEmail := map[string][]int{}
	if s.emails != nil {
		for pos, i := range idx {
			key := strings.ToLower(strings.TrimSpace(s.emails[i]))
			byEmail[key] = append(byEmail[key], pos)
		}
	}
	free := func(ps []int) int {
		for _, p := range ps {
			if got[p] == nil {
				return p
			}
		}
		return -1
	}
	var unplaced []int // results placed by list position, if at all
	for k := range results {
		r := &results[k]
		pos := -1
		switch {
		case r.Index.set:
			if r.Index.n >= 0 && r.Index.n < int64(len(idx)) && got[r.Index.n] == nil {
				pos = int(r.Index.n)
			}
		case r.ID.set && free(byID[r.ID.n]) >= 0:
			pos = free(byID[r.ID.n])
		case r.failed() && r.ID.set && r.ID.n >= 0 && r.ID.n < int64(len(idx)) && got[r.ID.n] == nil:
			pos = int(r.ID.n)
		case r.Email != "" && free(byEmail[strings.ToLower(strings.TrimSpace(r.Email))]) >= 0:
			pos = free(byEmail[strings.ToLower(strings.TrimSpace(r.Email))])
		default:
			unplaced = append(unplaced, k)
		}
		if pos >= 0 {
			got[pos] = r
		}
	}
	if len(results) == len(idx) {
		for _, k := range unplaced {
			if got[k] == nil {
				got[k] = &results[k]
			}
		}
	}
	return got
}

// emailTaken reports whether a failed user create failed because the
// e-mail belongs to an existing user.
func emailTaken(r *jobResult) bool {
	d := strings.ToLower(string(r.Details + " " + r.Error))
	return r.Error == "DuplicateValue" || strings.Contains(d, "already being used") ||
		(strings.Contains(d, "email") && strings.Contains(d, "already"))
}

// failAll fails every record of idx with err's code and message.
func (c *Client) failAll(res []syncer.WriteResult, s bulkSpec, idx []int, err error) {
	var se *syncer.Error
	if !errors.As(err, &se) {
		se = classify(s.op, "", err)
	}
	for _, i := range idx {
		res[i] = syncer.WriteResult{ID: s.idOf(i), Err: &syncer.Error{Code: se.Code, Op: s.op, Record: s.record(i), Message: se.Message, Err: se.Err}}
	}
}
