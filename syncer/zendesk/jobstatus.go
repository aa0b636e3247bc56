package zendesk

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// jobStatus is a job_status object ("Job Statuses", JSON format), decoded
// as leniently as Zendesk writes it: its counters may be floats ("total":
// 105.0) or null while the job is queued, and they are not used.
type jobStatus struct {
	ID       string     `json:"id"`
	Status   string     `json:"status"`
	Message  looseText  `json:"message"`
	Total    looseInt   `json:"total"`
	Progress looseInt   `json:"progress"`
	Results  jobResults `json:"results"`
}

// jobResults is a job status's "results". The Job Statuses reference
// documents it as an array of per-record results or, for some jobs, one
// object saying whether every record succeeded ({"success": true}); it may
// also be null or absent until the job completes. The array need not hold
// a result for every record of the job: the documented update_many
// example lists fewer results than its total.
type jobResults struct {
	items []jobResult
	all   *bool // the object form's "success"
}

func (r *jobResults) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		return nil
	case len(b) > 0 && b[0] == '{':
		var o struct {
			Success *bool `json:"success"`
		}
		if err := json.Unmarshal(b, &o); err != nil {
			return err
		}
		r.all = o.Success
		return nil
	}
	return json.Unmarshal(b, &r.items)
}

// jobResult is one item of a job status's results. Zendesk writes it in
// several shapes: {index, id, action, status, success} in full; only {id,
// index} or {id, status}; and for a failed record {"id": <its position in
// the request>, "error", "details", "status": "Failed"}, where id is not
// a record's ID. User jobs add the record's email.
type jobResult struct {
	Index   looseInt  `json:"index"`
	ID      looseInt  `json:"id"`
	Action  string    `json:"action"`
	Status  string    `json:"status"`
	Success *bool     `json:"success"`
	Email   string    `json:"email"`
	Error   looseText `json:"error"`
	Details looseText `json:"details"`
}

func (r *jobResult) failed() bool {
	return r.Error != "" || (r.Success != nil && !*r.Success) || strings.EqualFold(r.Status, "failed")
}

// message is a failed result's error with its details, which always say
// more than the error code alone.
func (r *jobResult) message() string {
	msg := string(r.Error)
	if r.Details != "" {
		if msg != "" {
			msg += ": "
		}
		msg += string(r.Details)
	}
	if msg == "" {
		msg = "the record was rejected"
	}
	return msg
}

// looseInt is an integer Zendesk may write as a number, a float with a
// zero fraction (105.0), a numeric string or null; set says whether it
// held one. Anything else is left unset rather than failing the job
// status.
type looseInt struct {
	n   int64
	set bool
}

func (v *looseInt) UnmarshalJSON(b []byte) error {
	*v = looseInt{}
	var x any
	if err := json.Unmarshal(b, &x); err != nil {
		return err
	}
	var f float64
	switch t := x.(type) {
	case float64:
		f = t
	case string:
		p, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
		if err != nil {
			return nil
		}
		f = p
	default:
		return nil
	}
	if f != math.Trunc(f) || math.Abs(f) > 1<<62 {
		return nil
	}
	*v = looseInt{n: int64(f), set: true}
	return nil
}

// looseText is a result's error or details, or a job's message:
// documented as a string, kept as compact JSON when it comes as anything
// else (an object of field errors, say), so that an unexpected shape is
// reported, not fatal.
type looseText string

func (t *looseText) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*t = looseText(s)
		return nil
	}
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		return nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return err
	}
	*t = looseText(buf.String())
	return nil
}
