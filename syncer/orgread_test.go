package syncer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
)

// scriptedOrgs is an OrgReader that plays a script: a listing of pages
// (after the first page it waits for proceed, or for its context to end),
// a count, and look-ups by external ID. It records what was asked of it.
type scriptedOrgs struct {
	pages    [][]Org
	failAt   int           // the listing fails before this page (0: never)
	proceed  chan struct{} // closed to let the listing go past its first page; nil: never waits
	first    chan struct{} // closed when the first page was handed over
	count    int
	countErr error
	// cheaper, when set, is closed by OrgCount: the count decided that
	// finishing the listing is cheaper, so it goes on.
	cheaper   bool
	byExt     map[string]Org
	lookupErr error

	mu     sync.Mutex
	counts int
	asked  []string
}

func (s *scriptedOrgs) EachOrgPage(ctx context.Context, fn func([]Org)) error {
	for i, page := range s.pages {
		if s.failAt > 0 && i == s.failAt {
			return Errorf(CodeAPIError, "listing failed at page %d", i)
		}
		if i == 1 && s.proceed != nil {
			select {
			case <-s.proceed:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		fn(page)
		if i == 0 {
			close(s.first)
		}
	}
	return nil
}

func (s *scriptedOrgs) OrgCount(context.Context) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts++
	if s.cheaper && s.proceed != nil {
		close(s.proceed)
	}
	return s.count, s.countErr
}

func (s *scriptedOrgs) EachOrgByExternalID(_ context.Context, ids []string, fn func([]Org)) error {
	s.mu.Lock()
	s.asked = append(s.asked, ids...)
	s.mu.Unlock()
	if s.lookupErr != nil {
		return s.lookupErr
	}
	var page []Org
	for _, id := range ids {
		if o, ok := s.byExt[id]; ok {
			page = append(page, o)
		}
	}
	fn(page)
	return nil
}

// orgsOf makes n orgs of the accounts accountID(from)…, with org IDs from+1….
func orgsOf(from, n int) []Org {
	out := make([]Org, n)
	for i := range out {
		out[i] = Org{ID: int64(from + i + 1), ExternalID: accountID(from + i)}
	}
	return out
}

func accountID(i int) string { return fmt.Sprintf("001000000%06dAAA", i) }

func idsOf(from, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = accountID(from + i)
	}
	return out
}

// TestOrgReadPath runs every branch of the org read (orgRead) through the
// OrgReader interface that every Zendesk implementation provides.
func TestOrgReadPath(t *testing.T) {
	all := orgsOf(0, 6) // accounts 0–5 have orgs
	byExt := map[string]Org{}
	for _, o := range all {
		byExt[o.ExternalID] = o
	}
	pages := [][]Org{all[0:2], all[2:4], all[4:6]}
	tests := []struct {
		name string
		zd   *scriptedOrgs
		// keysFirst sends the account IDs once the listing handed its first
		// page (and waits after it); otherwise once the listing returned.
		keysFirst bool
		keys      []string // nil: Salesforce failed
		maxHeld   int
		wantErr   bool
		wantOrgs  int      // orgs handed over
		wantAsked []string // IDs looked up
		wantCount bool     // the count was asked
	}{
		{name: "a listing that ends before Salesforce answers is the whole read",
			zd: &scriptedOrgs{pages: pages}, keys: idsOf(0, 6), wantOrgs: 6},
		{name: "a listing that fails before Salesforce answers gives way to look-ups of what it did not reach",
			zd: &scriptedOrgs{pages: pages, failAt: 2, byExt: byExt}, keys: idsOf(0, 7), wantOrgs: 6, wantAsked: idsOf(4, 3)},
		{name: "a listing stopped at the held-orgs bound leaves the rest to look-ups",
			zd: &scriptedOrgs{pages: pages, byExt: byExt}, maxHeld: 2, keys: idsOf(0, 6), wantOrgs: 6, wantAsked: idsOf(2, 4)},
		{name: "when finishing the listing is cheaper, it is finished and nothing is looked up",
			zd: &scriptedOrgs{pages: pages, proceed: make(chan struct{}), count: 6, cheaper: true}, keysFirst: true,
			keys: append(idsOf(0, 6), idsOf(100, 500)...), wantOrgs: 6, wantCount: true},
		{name: "when look-ups are cheaper, the listing stops and the rest is looked up",
			zd: &scriptedOrgs{pages: pages, proceed: make(chan struct{}), count: 100000, byExt: byExt}, keysFirst: true,
			keys: idsOf(0, 6), wantOrgs: 6, wantAsked: idsOf(2, 4), wantCount: true},
		{name: "a count that fails leaves the rest to look-ups",
			zd: &scriptedOrgs{pages: pages, proceed: make(chan struct{}), countErr: errors.New("count failed"), byExt: byExt}, keysFirst: true,
			keys: idsOf(0, 6), wantOrgs: 6, wantAsked: idsOf(2, 4), wantCount: true},
		{name: "a listing chosen to finish that then fails gives way to look-ups",
			zd: &scriptedOrgs{pages: pages, failAt: 2, proceed: make(chan struct{}), count: 6, cheaper: true, byExt: byExt}, keysFirst: true,
			keys: append(idsOf(0, 6), idsOf(100, 500)...), wantOrgs: 6, wantAsked: append(idsOf(4, 2), idsOf(100, 500)...), wantCount: true},
		{name: "when Salesforce failed, nothing is handed over or looked up",
			zd: &scriptedOrgs{pages: pages, proceed: make(chan struct{}), byExt: byExt}, keysFirst: true, keys: nil, wantOrgs: 0},
		{name: "a look-up that fails fails the read",
			zd: &scriptedOrgs{pages: pages, failAt: 1, lookupErr: Errorf(CodeOpenTimeout, "timeout")}, keys: idsOf(0, 6), wantErr: true, wantOrgs: 2,
			wantAsked: idsOf(2, 4)},
		{name: "look-ups skip IDs that are no account IDs, repeated, or already read",
			zd: &scriptedOrgs{pages: pages, failAt: 1, byExt: byExt}, keys: append(append(idsOf(0, 4), "not-an-id", accountID(3)), idsOf(0, 2)...),
			wantOrgs: 4, wantAsked: idsOf(2, 2)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.zd.first = make(chan struct{})
			maxHeld := tt.maxHeld
			if maxHeld == 0 {
				maxHeld = 1000
			}
			var got []Org
			seen := map[string]bool{}
			rd := orgRead{zd: tt.zd, maxHeld: maxHeld, log: slog.New(slog.DiscardHandler),
				sink: func(page []Org) {
					got = append(got, page...)
					for _, o := range page {
						seen[o.ExternalID] = true
					}
				},
				have: func(id string) bool { return seen[id] }}
			// Without keysFirst, the IDs arrive once the read saw the
			// listing end (it logs so).
			ended := make(chan struct{})
			rd.log = slog.New(&onMessage{msg: listingEnded, seen: ended})
			keys := make(chan []string, 1)
			go func() {
				if tt.keysFirst {
					<-tt.zd.first
				} else {
					<-ended
				}
				if tt.keys != nil {
					keys <- tt.keys
				}
				close(keys)
			}()
			n, err := rd.run(context.Background(), keys)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want an error: %v", err, tt.wantErr)
			}
			if n != tt.wantOrgs || len(got) != tt.wantOrgs {
				t.Errorf("handed %d orgs (counted %d), want %d", len(got), n, tt.wantOrgs)
			}
			if ids := uniqueOrgIDs(got); len(ids) != len(got) {
				t.Errorf("an org was handed over twice: %v", got)
			}
			if !slices.Equal(tt.zd.asked, tt.wantAsked) {
				t.Errorf("looked up %v, want %v", tt.zd.asked, tt.wantAsked)
			}
			if (tt.zd.counts > 0) != tt.wantCount {
				t.Errorf("counted %d times, want a count: %v", tt.zd.counts, tt.wantCount)
			}
		})
	}
}

func uniqueOrgIDs(orgs []Org) map[int64]bool {
	ids := map[int64]bool{}
	for _, o := range orgs {
		ids[o.ID] = true
	}
	return ids
}

// onMessage is a slog handler that closes seen when msg is logged.
type onMessage struct {
	msg  string
	seen chan struct{}
}

func (h *onMessage) Enabled(context.Context, slog.Level) bool { return true }
func (h *onMessage) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		close(h.seen)
	}
	return nil
}
func (h *onMessage) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *onMessage) WithGroup(string) slog.Handler      { return h }
