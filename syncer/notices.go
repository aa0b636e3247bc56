package syncer

import (
	"context"
	"slices"
	"sync"
)

type noticesKey struct{}

// notices collects the notices of one run, each once, in the order they
// were first given.
type notices struct {
	mu   sync.Mutex
	list []string
}

// WithNotices returns a context that collects the notices adapters give on
// behalf of a run (Notice), and a function that returns them: how a run
// fills Summary.Notices with what an adapter had to do differently (a
// fallback, a setting to look at) even when other runs share the same
// clients.
func WithNotices(ctx context.Context) (context.Context, func() []string) {
	n := &notices{}
	return context.WithValue(ctx, noticesKey{}, n), func() []string {
		n.mu.Lock()
		defer n.mu.Unlock()
		return slices.Clone(n.list)
	}
}

// Notice adds msg to the notices of the run of ctx, if it collects them;
// a notice already given in that run is not repeated, so an adapter may
// give it for every batch it concerns.
func Notice(ctx context.Context, msg string) {
	n, ok := ctx.Value(noticesKey{}).(*notices)
	if !ok {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if !slices.Contains(n.list, msg) {
		n.list = append(n.list, msg)
	}
}
