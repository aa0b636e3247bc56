package syncer

import (
	"strings"
	"sync"
)

// Interner shares one copy of each repeated value among the records of one
// read. A sync holds every account and every org at once, and most of
// their values (owner, region, tiers, dates, tags, field names) repeat
// across thousands of records: sharing them, and the interface boxes that
// hold them, is much of what makes 500,000 accounts fit in a small heap.
// Use one Interner for one read (a query, a listing) and drop it after:
// what it shared stays shared, and it never grows with the process's age.
// A nil *Interner shares nothing. It is safe for concurrent use.
type Interner struct {
	mu     sync.Mutex
	values map[any]any
}

// String returns the shared copy of s.
func (in *Interner) String(s string) string {
	if in == nil || s == "" {
		return s
	}
	return in.Value(s).(string)
}

// Value returns the shared copy of v when v is a string or a number, so
// that equal values share their interface box too; any other value is
// returned as it is.
func (in *Interner) Value(v any) any {
	if in == nil {
		return v
	}
	switch x := v.(type) {
	case string:
		if x == "" {
			return v
		}
	case float64:
	default:
		return v
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if c, ok := in.values[v]; ok {
		return c
	}
	if s, ok := v.(string); ok {
		v = strings.Clone(s) // not a window into a larger decoded buffer
	}
	if in.values == nil {
		in.values = map[any]any{}
	}
	in.values[v] = v
	return v
}
