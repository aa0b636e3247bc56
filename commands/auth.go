package commands

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/zdsync/zdsync/syncer"
)

// DefaultGroupTTL is how long Authorizer trusts a user group's member list
// before asking Slack again: short enough that removing someone from the
// group takes effect within a minute, long enough that a burst of commands
// makes one usergroups.users.list call.
const DefaultGroupTTL = time.Minute

// GroupMembers lists the members of a Slack user group. Package bot
// implements it over usergroups.users.list.
type GroupMembers interface {
	GroupMembers(ctx context.Context, groupID string) ([]string, error)
}

// Authorizer decides who may run commands that write: the Slack users and
// user groups named in SLACK_WRITERS. Group memberships are cached for a
// short time. It is safe for concurrent use.
type Authorizer struct {
	users   map[string]bool
	groups  []string
	members GroupMembers
	ttl     time.Duration
	now     func() time.Time

	mu    sync.Mutex
	cache map[string]groupEntry
}

type groupEntry struct {
	members map[string]bool
	at      time.Time
}

// ParseWriters splits SLACK_WRITERS (IDs separated by commas or spaces)
// into user IDs (U…, W…) and user-group IDs (S…). Anything else is an
// error naming the entry.
func ParseWriters(s string) (users, groups []string, err error) {
	for _, id := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == ';' || r == '\n' || r == '\t' }) {
		switch {
		case isSlackID(id, 'S'):
			groups = append(groups, id)
		case isSlackID(id, 'U'), isSlackID(id, 'W'):
			users = append(users, id)
		default:
			return nil, nil, fmt.Errorf("SLACK_WRITERS: %q is not a Slack user ID (U…/W…) or user-group ID (S…)", syncer.Clip(id, 40))
		}
	}
	return users, groups, nil
}

func isSlackID(s string, prefix byte) bool {
	if len(s) < 2 || len(s) > 32 || s[0] != prefix {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// NewAuthorizer returns an Authorizer allowing the given users and the
// members of the given groups (looked up with members, cached for ttl;
// DefaultGroupTTL when ttl is 0). now may be nil (time.Now).
func NewAuthorizer(users, groups []string, members GroupMembers, ttl time.Duration, now func() time.Time) *Authorizer {
	if ttl <= 0 {
		ttl = DefaultGroupTTL
	}
	if now == nil {
		now = time.Now
	}
	a := &Authorizer{users: map[string]bool{}, groups: groups, members: members, ttl: ttl, now: now, cache: map[string]groupEntry{}}
	for _, u := range users {
		a.users[u] = true
	}
	return a
}

// CanWrite reports whether user may run commands that write. An error means
// a group could not be read and the user is not otherwise allowed.
func (a *Authorizer) CanWrite(ctx context.Context, user string) (bool, error) {
	if user == "" {
		return false, nil
	}
	if a.users[user] {
		return true, nil
	}
	var firstErr error
	for _, g := range a.groups {
		m, err := a.groupMembers(ctx, g)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if m[user] {
			return true, nil
		}
	}
	return false, firstErr
}

func (a *Authorizer) groupMembers(ctx context.Context, group string) (map[string]bool, error) {
	now := a.now()
	a.mu.Lock()
	e, ok := a.cache[group]
	a.mu.Unlock()
	if ok && now.Sub(e.at) < a.ttl {
		return e.members, nil
	}
	if a.members == nil {
		return nil, fmt.Errorf("members of user group %s: no lookup configured", group)
	}
	list, err := a.members.GroupMembers(ctx, group)
	if err != nil {
		return nil, fmt.Errorf("members of user group %s: %w", group, err)
	}
	m := make(map[string]bool, len(list))
	for _, u := range list {
		m[u] = true
	}
	a.mu.Lock()
	a.cache[group] = groupEntry{members: m, at: now}
	a.mu.Unlock()
	return m, nil
}
