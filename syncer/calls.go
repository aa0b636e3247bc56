package syncer

import (
	"context"
	"sync/atomic"
)

type callsKey struct{}

// WithCallCounter returns a context that counts the API calls the adapters
// make on its behalf (each HTTP attempt), and a function that reads the
// count: how a run fills Summary.APICalls even when other runs share the
// same clients.
func WithCallCounter(ctx context.Context) (context.Context, func() int) {
	n := new(atomic.Int64)
	return context.WithValue(ctx, callsKey{}, n), func() int { return int(n.Load()) }
}

// CountCall adds one API call to the counter of ctx, if it has one.
// Adapters call it once per HTTP attempt.
func CountCall(ctx context.Context) {
	if n, ok := ctx.Value(callsKey{}).(*atomic.Int64); ok {
		n.Add(1)
	}
}
