package syncer

import (
	"context"
	"time"
)

// Sleep waits d, or until ctx ends (returning its error): the real wait
// behind every injectable Sleep of the package and its adapters.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Every calls fn every d until ctx ends (the first call d after the
// start): the loop behind each periodic check of the service.
func Every(ctx context.Context, d time.Duration, fn func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}
