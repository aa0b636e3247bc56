package zendesk

import (
	"context"
	"strings"

	"github.com/zdsync/zdsync/syncer"
)

// CreateUsers creates end-users with POST /users/create_many.json, without
// welcome e-mails. A record whose e-mail already exists fails with Exists
// set. A job whose answer was lost is not sent again blindly: the e-mails
// are first looked up and the users found count as created.
func (c *Client) CreateUsers(ctx context.Context, users []syncer.UserWrite) []syncer.WriteResult {
	s := bulkSpec{
		op: "create user", method: "POST", path: "/users/create_many.json", key: "users", n: len(users), userCreate: true,
		emails:  emailsOf(users),
		single:  &singleSpec{path: "/users.json", key: "user"},
		record:  func(i int) string { return users[i].Email },
		payload: func(i int) any { return userPayload(users[i], true) },
		lookup:  c.findUsers(users, func(int, syncer.User) bool { return true }),
	}
	s.confirm = s.lookup
	return c.runBulk(ctx, s)
}

// UpsertUsers creates or updates users matched by e-mail with POST
// /users/create_or_update_many.json. The request is idempotent, so it is
// retried like a PUT. The role is not sent, so that an existing agent is
// never demoted; Zendesk creates new users as end-users.
func (c *Client) UpsertUsers(ctx context.Context, users []syncer.UserWrite) []syncer.WriteResult {
	return c.runBulk(ctx, bulkSpec{
		op: "upsert user", method: "POST", path: "/users/create_or_update_many.json", key: "users", n: len(users), idempotent: true,
		emails:  emailsOf(users),
		single:  &singleSpec{path: "/users/create_or_update.json", key: "user"},
		record:  func(i int) string { return users[i].Email },
		payload: func(i int) any { return userPayload(users[i], false) },
		confirm: c.findUsers(users, func(i int, u syncer.User) bool {
			return u.Name == users[i].Name && (users[i].OrgID == 0 || u.OrgID == users[i].OrgID)
		}),
	})
}

// findUsers returns a bulkSpec lookup or confirm that looks the users[i]
// up by e-mail (one search for a job's records) and returns those found
// for which holds says so, given the user found, with their IDs.
func (c *Client) findUsers(users []syncer.UserWrite, holds func(i int, u syncer.User) bool) func(context.Context, []int) (map[int]int64, error) {
	return func(ctx context.Context, idx []int) (map[int]int64, error) {
		emails := make([]string, len(idx))
		for n, i := range idx {
			emails[n] = users[i].Email
		}
		found, err := c.UsersByEmail(ctx, emails)
		if err != nil {
			return nil, err
		}
		byEmail := map[string]syncer.User{}
		for _, u := range found {
			byEmail[strings.ToLower(u.Email)] = u
		}
		ok := map[int]int64{}
		for _, i := range idx {
			if u, has := byEmail[strings.ToLower(users[i].Email)]; has && holds(i, u) {
				ok[i] = u.ID
			}
		}
		return ok, nil
	}
}

// emailsOf returns the users' e-mails, in order.
func emailsOf(users []syncer.UserWrite) []string {
	out := make([]string, len(users))
	for i, u := range users {
		out[i] = u.Email
	}
	return out
}

// userPayload is a user as create_many (create) and
// create_or_update_many take it.
func userPayload(u syncer.UserWrite, create bool) map[string]any {
	p := map[string]any{"email": u.Email, "name": u.Name}
	if !u.Existing {
		// A new user gets no verification e-mail; an existing user's
		// verification is not the sync's to change.
		p["skip_verify_email"], p["verified"] = true, true
	}
	if create {
		p["role"] = "end-user"
	}
	if u.OrgID != 0 {
		p["organization_id"] = u.OrgID
	}
	return p
}
