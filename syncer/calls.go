package syncer

import (
	"context"
	"sync/atomic"
)

type callsKey struct{}

// callCounter counts calls, and passes each on to the counter of the
// context it was made in.
type callCounter struct {
	n      atomic.Int64
	parent *callCounter
}

// WithCallCounter returns a context that counts the API calls the adapters
// make on its behalf (each HTTP attempt), and a function that reads the
// count: how a run fills Summary.APICalls even when other runs share the
// same clients. Counters nest: a call counts in every counter of its
// context's chain, so a stage can count its own calls within a run's.
func WithCallCounter(ctx context.Context) (context.Context, func() int) {
	parent, _ := ctx.Value(callsKey{}).(*callCounter)
	c := &callCounter{parent: parent}
	return context.WithValue(ctx, callsKey{}, c), func() int { return int(c.n.Load()) }
}

// CountCall adds one API call to the counters of ctx, if it has any.
// Adapters call it once per HTTP attempt.
func CountCall(ctx context.Context) {
	for c, _ := ctx.Value(callsKey{}).(*callCounter); c != nil; c = c.parent {
		c.n.Add(1)
	}
}
