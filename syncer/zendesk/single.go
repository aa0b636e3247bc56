package zendesk

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/zdsync/zdsync/syncer"
)

// refusalMemory is how long a Client remembers that Zendesk refused a
// bulk endpoint with 403 before it tries that endpoint again: long enough
// that a run does not spend a refused request on every job, short enough
// that bulk imports enabled by Zendesk Support are used within the hour.
const refusalMemory = time.Hour

// singleSpec is the per-record endpoint of a bulk user operation: Create
// User (POST /users.json) for users/create_many, Create Or Update User
// (POST /users/create_or_update.json) for users/create_or_update_many.
// Zendesk answers the bulk endpoints 403 until the account has bulk user
// imports enabled ("A 403 Forbidden error is returned if data imports are
// not enabled", Create Many Users); the per-record ones keep working.
type singleSpec struct {
	path string // "/users.json"
	key  string // the body's key, "user"
}

// refusal is a bulk endpoint Zendesk refused, and why.
type refusal struct {
	until  time.Time
	reason string
}

// refusals remembers the bulk endpoints Zendesk refused (see
// refusalMemory).
type refusals struct {
	mu sync.Mutex
	m  map[string]refusal
}

func (r *refusals) add(path, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]refusal{}
	}
	r.m[path] = refusal{until: time.Now().Add(refusalMemory), reason: reason}
}

func (r *refusals) get(path string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f, ok := r.m[path]
	if !ok || time.Now().After(f.until) {
		return "", false
	}
	return f.reason, true
}

// refuseBulk records that Zendesk refused the bulk endpoint path.
func (c *Client) refuseBulk(path, reason string) { c.refused.add(path, reason) }

// runSinglyIfRefused writes the records idx one at a time through the
// per-record endpoint when Zendesk refused s's bulk endpoint, says so
// once in the run's notices, and reports whether it did.
func (c *Client) runSinglyIfRefused(ctx context.Context, s bulkSpec, idx []int, res []syncer.WriteResult) bool {
	if s.single == nil {
		return false
	}
	reason, ok := c.refused.get(s.path)
	if !ok {
		return false
	}
	syncer.Notice(ctx, fmt.Sprintf("Zendesk refused %s %s (%s), so the users were written one at a time with POST %s, "+
		"one API call each, under the rate limit. Ask Zendesk Customer Support to enable bulk user imports "+
		"(README, \"Zendesk account settings\").", s.method, s.path, reason, s.single.path))
	sem := make(chan struct{}, c.reads)
	var wg sync.WaitGroup
	for _, i := range idx {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			c.failAll(res, s, []int{i}, classify(s.op, "", ctx.Err()))
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			res[i] = c.writeOne(ctx, s, i)
		})
	}
	wg.Wait()
	return true
}

// writeOne writes record i through the per-record endpoint. A create
// whose answer was lost is looked up by e-mail before it is sent again,
// as a bulk job's is.
func (c *Client) writeOne(ctx context.Context, s bulkSpec, i int) syncer.WriteResult {
	rec := s.record(i)
	for attempt := 0; ; attempt++ {
		status, body, err := c.send(ctx, s.op, rec, http.MethodPost, s.single.path, map[string]any{s.single.key: s.payload(i)})
		switch {
		case err == nil && status >= 200 && status <= 299:
			var out struct {
				User *struct {
					ID int64 `json:"id"`
				} `json:"user"`
			}
			if derr := decode(s.op, rec, body, &out); derr != nil {
				return syncer.WriteResult{Err: derr}
			}
			if out.User == nil || out.User.ID == 0 {
				return syncer.WriteResult{Err: &syncer.Error{Code: syncer.CodeBadResponse, Op: s.op, Record: rec, Message: "the answer holds no user"}}
			}
			return syncer.WriteResult{ID: out.User.ID}
		case err == nil && status == http.StatusUnprocessableEntity:
			msg, taken := invalidRecord(body)
			return syncer.WriteResult{Exists: s.userCreate && taken,
				Err: &syncer.Error{Code: syncer.CodeItemFailed, Op: s.op, Record: rec, Message: msg}}
		case err == nil:
			err = statusError(s.op, rec, status, body)
		}
		if s.lookup == nil || !lostAnswer(err) || attempt >= c.tr.maxRetries {
			return syncer.WriteResult{Err: classify(s.op, rec, err)}
		}
		if found, lerr := s.lookup(ctx, []int{i}); lerr == nil && found[i] != 0 {
			return syncer.WriteResult{ID: found[i]}
		}
		if serr := c.sleep(ctx, backoff(attempt)); serr != nil {
			return syncer.WriteResult{Err: classify(s.op, rec, serr)}
		}
	}
}

// invalidRecord reads a 422 RecordInvalid answer: {"error":
// "RecordInvalid", "description": "Record validation errors", "details":
// {"email": [{"description": "Email: … is already being used by another
// user", "error": "DuplicateValue"}]}}. It returns the details'
// descriptions (the whole answer when it has none) and whether the
// e-mail is taken.
func invalidRecord(body []byte) (msg string, emailTaken bool) {
	var e struct {
		Description string `json:"description"`
		Details     map[string][]struct {
			Description string `json:"description"`
			Error       string `json:"error"`
		} `json:"details"`
	}
	if json.Unmarshal(body, &e) != nil || len(e.Details) == 0 {
		return "Zendesk refused the record (422): " + strings.TrimSpace(string(body)), false
	}
	fields := make([]string, 0, len(e.Details))
	for f := range e.Details {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	var parts []string
	for _, f := range fields {
		for _, d := range e.Details[f] {
			parts = append(parts, d.Description)
			if f == "email" && (d.Error == "DuplicateValue" || strings.Contains(strings.ToLower(d.Description), "already being used")) {
				emailTaken = true
			}
		}
	}
	return strings.Join(parts, "; "), emailTaken
}
