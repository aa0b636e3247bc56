package syncer

import (
	"context"
	"time"
)

// APIAllowance is what is left of Salesforce's rolling 24-hour API request
// allowance, as its REST API reports it (GET /services/data/vXX.X/limits/,
// key DailyApiRequests: see Salesforce's REST API Developer Guide, "Limits").
type APIAllowance struct {
	Max       int // DailyApiRequests.Max
	Remaining int // DailyApiRequests.Remaining
}

// AllowanceReader reads Salesforce's remaining API allowance: APIAllowance
// asks Salesforce (one request); LastAllowance returns what Salesforce
// last reported in its answers (the Sforce-Limit-Info header: REST API
// Developer Guide, "Limit Info Header") and when, without a request of its
// own, false until an answer reported it. Implemented by syncer/salesforce.
type AllowanceReader interface {
	APIAllowance(ctx context.Context) (APIAllowance, error)
	LastAllowance() (APIAllowance, time.Time, bool)
}
