package zendesktest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// submit queues a bulk job for the records in the request body under key.
func (s *Server) submit(w http.ResponseWriter, r *http.Request, endpoint, jobType, key string) {
	var body map[string][]map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeError(w, 400, "InvalidValue", "malformed JSON body")
		return
	}
	items, ok := body[key]
	if !ok || len(items) == 0 {
		writeError(w, 400, "InvalidValue", fmt.Sprintf("%s: an array of records is required", key))
		return
	}
	if len(items) > MaxJobItems {
		writeError(w, 400, "InvalidValue", fmt.Sprintf("%s: at most %d records a job", key, MaxJobItems))
		return
	}
	s.queue(w, &job{Type: jobType, Endpoint: endpoint, Items: items})
}

// submitDestroy queues an organizations destroy_many job for ?ids= or
// ?external_ids=.
func (s *Server) submitDestroy(w http.ResponseWriter, q url.Values, endpoint string) {
	var ids []int64
	if v := q.Get("external_ids"); v != "" {
		for _, ext := range strings.Split(v, ",") {
			if o := s.orgByExternalID(ext); o != nil {
				ids = append(ids, o.ID)
			} else {
				ids = append(ids, 0)
			}
		}
	} else {
		var ok bool
		ids, ok = parseIDs(q.Get("ids"))
		if !ok {
			writeError(w, 400, "InvalidValue", "ids must be numbers")
			return
		}
	}
	if len(ids) == 0 || len(ids) > MaxJobItems {
		writeError(w, 400, "InvalidValue", fmt.Sprintf("between 1 and %d ids a job", MaxJobItems))
		return
	}
	s.queue(w, &job{Type: "bulk_delete_organizations", Endpoint: endpoint, IDs: ids})
}

func (s *Server) queue(w http.ResponseWriter, j *job) {
	refuse := s.jobRefusals > 0 || (s.maxJobs >= 0 && s.jobsActive(s.now()) >= s.maxJobs)
	if s.jobRefusals > 0 {
		s.jobRefusals--
	}
	if refuse {
		// The error code is the fake's: Zendesk documents the limit and
		// the 429, not the body's wording.
		w.Header().Set("Retry-After", strconv.Itoa(tooManyJobsRetryAfter))
		writeError(w, http.StatusTooManyRequests, "TooManyJobs", "The account has reached its limit of background jobs queued or running")
		return
	}
	s.jobSeq++
	j.ID = fmt.Sprintf("%032x", s.jobSeq)
	j.Created = s.now()
	j.Status = "queued"
	switch {
	case s.stuckJobs > 0:
		s.stuckJobs--
		j.Stuck = true
	case s.failJobs[j.Endpoint] > 0:
		s.failJobs[j.Endpoint]--
		j.Fail = true
	case s.failJobs[""] > 0:
		s.failJobs[""]--
		j.Fail = true
	case s.jobDelay == 0:
		s.apply(j)
	}
	s.jobs[j.ID] = j
	writeJSON(w, 200, map[string]any{"job_status": s.jobJSON(j)})
}

func (s *Server) showJob(w http.ResponseWriter, id string) {
	j, ok := s.jobs[strings.TrimSuffix(id, ".json")]
	if !ok {
		writeError(w, 404, "RecordNotFound", "Not found")
		return
	}
	switch {
	case j.Stuck:
	case j.Fail:
		j.Status, j.Message = "failed", "Job failed: internal error"
	default:
		if !j.Applied && s.now().Sub(j.Created) >= s.jobDelay {
			s.apply(j)
		}
		if j.Applied {
			j.Status = "completed"
			j.Message = "Completed at " + s.now().UTC().Format("2006-01-02 15:04:05 +0000")
		}
	}
	writeJSON(w, 200, map[string]any{"job_status": s.jobJSON(j)})
}

func (s *Server) jobJSON(j *job) map[string]any {
	total := len(j.Items) + len(j.IDs)
	progress := 0
	var results any
	if j.Status == "completed" {
		progress = total
		results = s.shape.results(j.Results)
	}
	if s.resultsObject {
		obj := map[string]any{}
		if j.Status == "completed" {
			ok := true
			for _, r := range j.Results {
				ok = ok && r.Success
			}
			obj["success"] = ok
		}
		results = obj
	}
	out := map[string]any{
		"id": j.ID, "url": fmt.Sprintf("%s/api/v2/job_statuses/%s.json", s.srv.URL, j.ID),
		"job_type": j.Type, "status": j.Status, "total": s.shape.counter(total), "progress": s.shape.counter(progress),
		"message": nullable(j.Message), "results": results,
	}
	if s.shape.NullWhileQueued && j.Status == "queued" {
		out["total"], out["progress"], out["results"] = nil, nil, nil
	}
	return out
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// apply writes a job's records and stores its per-item results.
func (s *Server) apply(j *job) {
	j.Applied = true
	now := s.now().UTC()
	for i, item := range j.Items {
		idx := i
		if s.itemFault != nil && s.itemFault(j.Endpoint, item) {
			res := jobResult{Index: &idx, Success: false, Error: "InvalidValue", Details: "Record rejected: injected item failure"}
			if id := intOf(item["id"]); id != 0 && j.Type == "update_many_organizations" {
				res.Index, res.ID = nil, id
			}
			j.Results = append(j.Results, res)
			continue
		}
		switch j.Type {
		case "create_many_organizations":
			j.Results = append(j.Results, s.createOrg(idx, item, now))
		case "update_many_organizations":
			j.Results = append(j.Results, s.updateOrg(item, now))
		case "create_many_users":
			j.Results = append(j.Results, s.createUser(idx, item, now, false))
		case "create_or_update_many_users":
			j.Results = append(j.Results, s.createUser(idx, item, now, true))
		case "create_many_organization_memberships":
			j.Results = append(j.Results, s.createMembership(idx, item, now))
		}
	}
	for _, id := range j.IDs {
		if s.itemFault != nil && s.itemFault(j.Endpoint, map[string]any{"id": float64(id)}) {
			j.Results = append(j.Results, jobResult{ID: id, Action: "delete", Success: false, Error: "InvalidValue", Details: "Record rejected: injected item failure"})
			continue
		}
		if _, ok := s.orgs[id]; !ok {
			j.Results = append(j.Results, jobResult{ID: id, Action: "delete", Success: false, Error: "RecordNotFound", Details: fmt.Sprintf("Organization %d not found", id)})
			continue
		}
		s.dropOrg(id)
		for _, u := range s.users {
			if u.OrgID != nil && *u.OrgID == id {
				u.OrgID = nil
			}
		}
		j.Results = append(j.Results, jobResult{ID: id, Action: "delete", Status: "Deleted", Success: true})
	}
}

func intOf(v any) int64 {
	switch n := v.(type) {
	case float64:
		return int64(n)
	case json.Number:
		i, _ := n.Int64()
		return i
	case string:
		var i int64
		_, _ = fmt.Sscan(n, &i)
		return i
	}
	return 0
}

func stringsOf(v any) []string {
	out := []string{}
	list, _ := v.([]any)
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// jobResult is one item of a job status's results, in the documented shape.
type jobResult struct {
	Index   *int   `json:"index,omitempty"`
	ID      int64  `json:"id,omitempty"`
	Action  string `json:"action,omitempty"`
	Status  string `json:"status,omitempty"`
	Success bool   `json:"success"`
	Error   string `json:"error,omitempty"`
	Details string `json:"details,omitempty"`
	Email   string `json:"email,omitempty"`
}

type job struct {
	ID       string
	Type     string
	Endpoint string
	Items    []map[string]any
	IDs      []int64
	Created  time.Time
	Status   string // queued, completed, failed
	Stuck    bool
	Fail     bool
	Applied  bool
	Results  []jobResult
	Message  string
}
