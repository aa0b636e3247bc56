package salesforcetest

import (
	"net/http"
	"reflect"
	"time"
)

// How the fake keeps SystemModstamp, the audit field every Salesforce
// object has ("the date and time when a record was last modified by a user
// or by an automated process", Object Reference, "System Fields"): an
// insert or an update stamps the record with the fake's clock, an account
// only when its own fields change (a subscription or sold-to record has a
// stamp of its own, as a child record does), and a child record removed by
// an update is kept as deleted (IsDeleted, stamped at its deletion) for
// queryAll, as the Recycle Bin keeps it. A record given with a stamp other
// than the one stored keeps it: that is a change committed late by a long
// transaction, whose SystemModstamp is older than its commit.

// ModstampFormat is how Salesforce writes a dateTime in a query answer,
// e.g. 2026-12-03T08:00:00.000+0000.
const ModstampFormat = "2006-01-02T15:04:05.000-0700"

// WithClock makes the fake read the time of SystemModstamp from now instead
// of the wall clock (a test's or a benchmark's simulated clock).
func WithClock(now func() time.Time) Option { return func(s *Server) { s.clock = now } }

// SetRequestHook makes the fake call fn with each REST API request (logins
// excluded) before answering it, outside its lock, so that a test can
// change records while a run is in progress, at a chosen request. nil
// removes the hook.
func (s *Server) SetRequestHook(fn func(r *http.Request)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hook = fn
}

// now is the fake's clock, at millisecond precision as SystemModstamp.
func (s *Server) now() time.Time {
	if s.clock != nil {
		return s.clock().UTC().Truncate(time.Millisecond)
	}
	return time.Now().UTC().Truncate(time.Millisecond)
}

// tombstone is a deleted child record or contact, as queryAll still
// returns it.
type tombstone struct {
	object    string // its sObject, e.g. Zuora__Subscription__c
	id        string
	accountID string
	stamp     time.Time
}

// The child sObjects behind the accounts' child relationships, with the
// key prefix of their IDs.
const (
	objCustomerSubscription = "Customer_Subscription__c"
	objZuoraSubscription    = "Zuora__Subscription__c"
	objSoldTo               = "Zuora__CustomerAccount__c"
	objContact              = "Contact"
)

// stampAccountLocked sets the SystemModstamp of an account being stored
// over old (nil for an insert) and of its children, gives new children
// their IDs, and keeps the children the update removed as deleted.
func (s *Server) stampAccountLocked(old, a *Account) {
	now := s.now()
	switch {
	case old == nil && a.SystemModstamp.IsZero():
		a.SystemModstamp = now
	case old != nil && a.SystemModstamp.Equal(old.SystemModstamp):
		if !sameOwnFields(old, a) {
			a.SystemModstamp = now
		}
	}
	var oldCS []CustomerSubscription
	var oldZS []ZuoraSubscription
	var oldST []SoldTo
	if old != nil {
		oldCS, oldZS, oldST = old.CustomerSubscriptions, old.ZuoraSubscriptions, old.SoldTo
	}
	stampChildren(s, a.ID, "a0C", objCustomerSubscription, a.CustomerSubscriptions, oldCS,
		func(c *CustomerSubscription) (*string, *time.Time) { return &c.ID, &c.SystemModstamp }, now)
	stampChildren(s, a.ID, "a0Z", objZuoraSubscription, a.ZuoraSubscriptions, oldZS,
		func(c *ZuoraSubscription) (*string, *time.Time) { return &c.ID, &c.SystemModstamp }, now)
	stampChildren(s, a.ID, "a0B", objSoldTo, a.SoldTo, oldST,
		func(c *SoldTo) (*string, *time.Time) { return &c.ID, &c.SystemModstamp }, now)
}

// stampChildren stamps the children of one relationship: a new one gets
// an ID and the time now, a changed one the time now; one that is gone is
// kept as deleted.
func stampChildren[T any](s *Server, parent, prefix, object string, kids, old []T, keys func(*T) (*string, *time.Time), now time.Time) {
	before := make(map[string]*T, len(old))
	for i := range old {
		id, _ := keys(&old[i])
		before[*id] = &old[i]
	}
	kept := map[string]bool{}
	for i := range kids {
		id, stamp := keys(&kids[i])
		if *id == "" {
			*id = s.newChildID(prefix)
		}
		kept[*id] = true
		prev := before[*id]
		if prev == nil {
			if stamp.IsZero() {
				*stamp = now
			}
			continue
		}
		_, prevStamp := keys(prev)
		if stamp.Equal(*prevStamp) && !sameChild(*prev, kids[i]) {
			*stamp = now
		}
	}
	for id := range before {
		if !kept[id] {
			s.deleted = append(s.deleted, tombstone{object: object, id: id, accountID: parent, stamp: now})
		}
	}
}

// newChildID returns the ID of a new child record, unique in the fake.
func (s *Server) newChildID(prefix string) string {
	s.seq++
	return makeID(prefix, 'k', 0, s.seq)
}

// sameOwnFields reports whether two versions of an account have the same
// fields of its own (children and stamps aside).
func sameOwnFields(a, b *Account) bool {
	x, y := *a, *b
	x.CustomerSubscriptions, x.ZuoraSubscriptions, x.SoldTo, x.SystemModstamp = nil, nil, nil, time.Time{}
	y.CustomerSubscriptions, y.ZuoraSubscriptions, y.SoldTo, y.SystemModstamp = nil, nil, nil, time.Time{}
	return reflect.DeepEqual(x, y)
}

// sameChild reports whether two versions of a child record have the same
// fields (ID and stamp aside: the caller compares versions of one ID).
func sameChild[T any](a, b T) bool {
	clear := func(v *T) {
		switch c := any(v).(type) {
		case *CustomerSubscription:
			c.SystemModstamp = time.Time{}
		case *ZuoraSubscription:
			c.SystemModstamp = time.Time{}
		case *SoldTo:
			c.SystemModstamp = time.Time{}
		}
	}
	clear(&a)
	clear(&b)
	return reflect.DeepEqual(a, b)
}

// stampContactLocked sets the SystemModstamp of a contact being stored
// over old (nil for an insert).
func (s *Server) stampContactLocked(old, c *Contact) {
	switch {
	case old == nil && c.SystemModstamp.IsZero():
		c.SystemModstamp = s.now()
	case old != nil && c.SystemModstamp.Equal(old.SystemModstamp):
		x, y := *old, *c
		x.SystemModstamp, y.SystemModstamp = time.Time{}, time.Time{}
		if x != y {
			c.SystemModstamp = s.now()
		}
	}
}

// UpdateContact applies fn to a copy of the contact with the given ID and
// stores the result, stamped as an update; it reports whether the contact
// exists. fn must not change the ID.
func (s *Server) UpdateContact(id string, fn func(*Contact)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.contacts[id]
	if !ok {
		return false
	}
	c := *old
	fn(&c)
	c.ID = id
	s.stampContactLocked(old, &c)
	s.contacts[id] = &c
	return true
}
