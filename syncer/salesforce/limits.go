package salesforce

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zdsync/zdsync/syncer"
)

// limitsPath is the REST resource that lists the org's limits (REST API
// Developer Guide, "Limits" and "List Org Limits"); it needs the View Setup
// and Configuration permission.
const limitsPath = "/limits/"

// APIAllowance reads what is left of the org's rolling 24-hour API request
// allowance (the DailyApiRequests limit of GET /limits/). The read is one
// API request itself.
func (c *Client) APIAllowance(ctx context.Context) (syncer.APIAllowance, error) {
	const op = "read the daily API allowance"
	var limits limitsAnswer
	if err := c.call(ctx, op, "", func() error { return c.do(ctx, http.MethodGet, limitsPath, nil, &limits) }); err != nil {
		return syncer.APIAllowance{}, err
	}
	a, err := limits.allowance()
	return a, syncer.WithOp(err, op, "")
}

// limitsAnswer is the part of the limits resource's answer APIAllowance
// reads: {"DailyApiRequests": {"Max": 5000, "Remaining": 4937}, …}.
type limitsAnswer struct {
	DailyAPIRequests *struct {
		Max       *limitValue `json:"Max"`
		Remaining *limitValue `json:"Remaining"`
	} `json:"DailyApiRequests"`
}

// allowance returns the daily API allowance of the answer.
func (l limitsAnswer) allowance() (syncer.APIAllowance, error) {
	d := l.DailyAPIRequests
	if d == nil || d.Max == nil || d.Remaining == nil || *d.Max < 0 || *d.Remaining < 0 {
		return syncer.APIAllowance{}, &syncer.Error{Code: syncer.CodeBadResponse,
			Message: "Salesforce's limits answer has no DailyApiRequests Max and Remaining"}
	}
	return syncer.APIAllowance{Max: int(*d.Max), Remaining: int(*d.Remaining)}, nil
}

// limitValue is a limit's Max or Remaining: a JSON number, or a number in
// a string as the first versions of the resource sent ("Max":"5000").
type limitValue int

// UnmarshalJSON reads a number or a quoted number.
func (v *limitValue) UnmarshalJSON(b []byte) error {
	n, err := strconv.Atoi(string(bytes.Trim(b, `"`)))
	if err != nil {
		return &syncer.Error{Code: syncer.CodeBadResponse,
			Message: "Salesforce's limits answer has a value that is not a whole number: " + truncate(string(b), 40)}
	}
	*v = limitValue(n)
	return nil
}

// limitInfoHeader is the header in which every REST API answer reports the
// org's API usage: "Sforce-Limit-Info: api-usage=18/5000", the requests
// of the rolling 24 hours and the allowance (REST API Developer Guide,
// "Limit Info Header").
const limitInfoHeader = "Sforce-Limit-Info"

// usage is the allowance the last answer that reported it reported.
type usage struct {
	mu sync.Mutex
	a  syncer.APIAllowance
	at time.Time
}

// note keeps the allowance of a Sforce-Limit-Info header value, if it has
// one.
func (u *usage) note(header string, at time.Time) {
	for _, part := range strings.Split(header, ",") {
		v, ok := strings.CutPrefix(strings.TrimSpace(part), "api-usage=")
		if !ok {
			continue
		}
		used, maximum, ok := strings.Cut(v, "/")
		n, err1 := strconv.Atoi(used)
		m, err2 := strconv.Atoi(maximum)
		if !ok || err1 != nil || err2 != nil || n < 0 || m <= 0 {
			return
		}
		u.mu.Lock()
		defer u.mu.Unlock()
		u.a, u.at = syncer.APIAllowance{Max: m, Remaining: max(m-n, 0)}, at
		return
	}
}

// LastAllowance returns the daily API allowance Salesforce reported in
// its last answer (Sforce-Limit-Info) and when, without a request of its
// own; false until an answer reported it.
func (c *Client) LastAllowance() (syncer.APIAllowance, time.Time, bool) {
	c.usage.mu.Lock()
	defer c.usage.mu.Unlock()
	return c.usage.a, c.usage.at, !c.usage.at.IsZero()
}
