package syncer

import "context"

// APIAllowance is what is left of Salesforce's rolling 24-hour API request
// allowance, as its REST API reports it (GET /services/data/vXX.X/limits/,
// key DailyApiRequests: see Salesforce's REST API Developer Guide, "Limits").
type APIAllowance struct {
	Max       int // DailyApiRequests.Max
	Remaining int // DailyApiRequests.Remaining
}

// AllowanceReader reads Salesforce's remaining API allowance. Implemented by
// syncer/salesforce.
type AllowanceReader interface {
	APIAllowance(ctx context.Context) (APIAllowance, error)
}
