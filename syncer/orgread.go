package syncer

import (
	"context"
	"log/slog"
	"sync"
)

// defaultMaxHeldOrgs is Runner.MaxHeldOrgs's default: about 15 MB of orgs.
const defaultMaxHeldOrgs = 20_000

// orgRead reads the orgs whose external_id is one of the account IDs
// Salesforce returns (the plans ignore every other org), and hands them to
// sink page by page, never before those IDs are known.
//
// Zendesk's cursor listing is sequential: at 100 ms a call, 100,000 orgs
// take 100 s, more than the 86 s a 700-a-minute budget needs for the same
// 1,000 calls. So the orgs are read in two overlapping ways: the listing
// runs while Salesforce is queried (its pages held until the IDs are
// known, at most maxHeld orgs); if it reaches its end first (small
// instances), that is the whole read; otherwise, when the IDs arrive, one
// count decides whether finishing the listing is clearly cheaper (many
// accounts without an org yet, as in federal-orgs) and else the listing
// stops and the IDs it has not reached are looked up by external ID, 100 a
// call, several calls in flight, paced by the adapter's rate limiter.
// Either way about one call per 100 orgs is made, and the Salesforce
// query's time is not lost. A listing that fails also gives way to the
// look-ups. Zendesk's external_id is unique per org, so the listing and
// the look-ups never need each other's duplicates.
type orgRead struct {
	zd      OrgReader
	maxHeld int
	log     *slog.Logger
	// sink receives the orgs, one call at a time; have reports whether an
	// org of an account ID was handed over.
	sink func(page []Org)
	have func(id string) bool

	mu     sync.Mutex
	held   [][]Org // pages listed before the IDs were known
	ready  bool    // the IDs are known: pages go to sink
	listed int     // orgs listed
	handed int     // orgs handed to sink
	capped bool    // the listing was stopped at maxHeld
}

// run reads the orgs of the account IDs that arrive on keys (closed without
// a value when Salesforce failed: then nothing is handed over and its
// error is the run's). It returns how many orgs it handed over, which may
// include orgs of no account.
func (rd *orgRead) run(ctx context.Context, keys <-chan []string) (int, error) {
	lctx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- rd.zd.EachOrgPage(lctx, func(page []Org) { rd.listedPage(page, stop) }) }()
	ids, known, listErr := rd.race(ctx, keys, done, stop)
	switch {
	case !known:
		return 0, nil
	case listErr == nil:
		return rd.handed, nil // the listing reached its end
	}
	// The listing has stopped: every page it read has been handed over.
	var rest []string
	asked := make(map[string]bool)
	for _, id := range ids {
		if IsAccountID(id) && !rd.have(id) && !asked[id] {
			asked[id] = true
			rest = append(rest, id)
		}
	}
	err := rd.zd.EachOrgByExternalID(ctx, rest, rd.hand)
	return rd.handed, err
}

// race waits for the first of the listing's end and the account IDs, and
// returns the IDs (known is false when Salesforce failed) and how the
// listing ended: nil when it reached its end, so that nothing is left to
// look up.
func (rd *orgRead) race(ctx context.Context, keys <-chan []string, done <-chan error, stop context.CancelFunc) (ids []string, known bool, listErr error) {
	select {
	case listErr = <-done:
		rd.mu.Lock()
		quiet := rd.capped // stopped on purpose: the look-ups read the rest
		rd.mu.Unlock()
		rd.log.Debug(listingEnded, "complete", listErr == nil, "capped", quiet)
		if listErr != nil && !quiet {
			rd.log.Warn("org listing failed; looking the orgs up instead", "err", listErr)
		}
		if ids, known = <-keys; known {
			rd.release()
		}
		return ids, known, listErr
	case ids, known = <-keys:
		if known {
			rd.release() // from now on the listing's pages go to sink
		}
		if !known || !rd.listingIsCheaper(ctx, ids) {
			stop()
		}
		return ids, known, <-done
	}
}

// listingEnded is logged (debug) when the listing ends before the account
// IDs are known.
const listingEnded = "org listing ended before the accounts arrived"

// listedPage takes one page of the listing: handed over once the IDs are
// known, held until then (stopping the listing at maxHeld).
func (rd *orgRead) listedPage(page []Org, stop context.CancelFunc) {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	rd.listed += len(page)
	if rd.ready {
		rd.sinkLocked(page)
		return
	}
	rd.held = append(rd.held, page)
	if rd.listed >= rd.maxHeld {
		rd.capped = true
		stop()
	}
}

// release hands over the held pages: the IDs are known.
func (rd *orgRead) release() {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	rd.ready = true
	for _, page := range rd.held {
		rd.sinkLocked(page)
	}
	rd.held = nil
}

// hand hands over the orgs of one look-up.
func (rd *orgRead) hand(page []Org) {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	rd.sinkLocked(page)
}

func (rd *orgRead) sinkLocked(page []Org) {
	rd.sink(page)
	rd.handed += len(page)
}

// listingIsCheaper decides, when the account IDs arrive while the listing
// is still going, whether finishing the listing costs clearly fewer calls
// than looking up the IDs not seen yet (it does when many accounts have no
// org yet, as in federal-orgs). The look-ups run in parallel and the
// listing does not, so the listing must win by a margin; a count that
// fails leaves it to the look-ups.
func (rd *orgRead) listingIsCheaper(ctx context.Context, ids []string) bool {
	rd.mu.Lock()
	seen := rd.listed
	rd.mu.Unlock()
	total, err := rd.zd.OrgCount(ctx)
	if err != nil {
		return false
	}
	pages := (max(total-seen, 0) + 99) / 100
	lookups := (max(len(ids)-seen, 0) + 99) / 100
	return pages*10 < lookups*8
}
