package zendesktest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/zdsync/zdsync/syncer"
)

type user struct {
	ID         int64          `json:"id"`
	URL        string         `json:"url"`
	Name       string         `json:"name"`
	Email      string         `json:"email"`
	OrgID      *int64         `json:"organization_id"`
	Role       string         `json:"role"`
	Verified   bool           `json:"verified"`
	Active     bool           `json:"active"`
	Tags       []string       `json:"tags"`
	Fields     map[string]any `json:"user_fields"`
	ExternalID *string        `json:"external_id"`
	CreatedAt  time.Time      `json:"created_at"`
	UpdatedAt  time.Time      `json:"updated_at"`
}

// AddUser stores a user as if it existed in Zendesk and returns its ID. It
// panics on a duplicate e-mail (compared case-insensitively).
func (s *Server) AddUser(u syncer.User) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u.Email != "" && s.userByEmail(u.Email) != nil {
		panic("zendesktest: duplicate user e-mail " + u.Email)
	}
	id := s.takeID(u.ID)
	role := u.Role
	if role == "" {
		role = "end-user"
	}
	now := s.now().UTC()
	rec := &user{ID: id, URL: s.apiURL("users", id), Name: u.Name, Email: u.Email, Role: role, Active: true, Verified: true,
		Tags: append([]string{}, u.Tags...), Fields: copyMap(u.Fields), CreatedAt: now, UpdatedAt: now}
	if u.OrgID != 0 {
		oid := u.OrgID
		rec.OrgID = &oid
	}
	if u.ExternalID != "" {
		ext := u.ExternalID
		rec.ExternalID = &ext
	}
	s.putUser(rec)
	return id
}

// Users returns every user, ordered by ID.
func (s *Server) Users() []syncer.User {
	s.mu.Lock()
	defer s.mu.Unlock()
	return domains(s.sortedUserIDs(), s.users, (*user).domain)
}

// UserVerified reports whether the user's primary identity is verified.
func (s *Server) UserVerified(id int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[id]
	return ok && u.Verified
}

// SetUserVerified sets whether the user's primary identity is verified
// (AddUser makes users verified).
func (s *Server) SetUserVerified(id int64, verified bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u, ok := s.users[id]; ok {
		u.Verified = verified
	}
}

func (u *user) domain() syncer.User {
	d := syncer.User{ID: u.ID, Name: u.Name, Email: u.Email, Role: u.Role, Tags: append([]string{}, u.Tags...), Fields: copyMap(u.Fields)}
	if u.OrgID != nil {
		d.OrgID = *u.OrgID
	}
	if u.ExternalID != nil {
		d.ExternalID = *u.ExternalID
	}
	return d
}

func (s *Server) userByEmail(email string) *user {
	if id, ok := s.userByMailIdx[strings.ToLower(email)]; ok {
		return s.users[id]
	}
	return nil
}

// putUser stores a new user and indexes it. The caller holds s.mu.
func (s *Server) putUser(u *user) {
	s.users[u.ID] = u
	if u.Email != "" {
		s.userByMailIdx[strings.ToLower(u.Email)] = u.ID
	}
	s.userIDs = appendSorted(s.userIDs, u.ID)
}

// sortedUserIDs returns the user IDs in order. The caller holds s.mu and
// must not modify the slice.
func (s *Server) sortedUserIDs() []int64 {
	s.userIDs = sortedKeys(s.userIDs, s.users)
	return s.userIDs
}

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// searchUsers answers GET /users/search.json?query=… for "email:x" (or a
// bare e-mail) and ?external_id=….
func (s *Server) searchUsers(w http.ResponseWriter, q url.Values) {
	out := []*user{}
	if ext := q.Get("external_id"); ext != "" {
		for _, id := range s.sortedUserIDs() {
			if u := s.users[id]; u.ExternalID != nil && *u.ExternalID == ext {
				out = append(out, u)
			}
		}
	} else {
		term := strings.TrimSpace(q.Get("query"))
		term = strings.Trim(strings.TrimPrefix(term, "email:"), `"`)
		if u := s.userByEmail(term); u != nil && term != "" {
			out = append(out, u)
		}
	}
	writeJSON(w, 200, map[string]any{"users": out, "next_page": nil, "previous_page": nil, "count": len(out)})
}

func (s *Server) showManyUsers(w http.ResponseWriter, q url.Values) {
	ids, ok := parseIDs(q.Get("ids"))
	if !ok || len(ids) > MaxJobItems {
		writeError(w, 400, "InvalidValue", "ids must be at most 100 numbers")
		return
	}
	out := []*user{}
	for _, id := range ids {
		if u, ok := s.users[id]; ok {
			out = append(out, u)
		}
	}
	writeJSON(w, 200, map[string]any{"users": out, "next_page": nil, "previous_page": nil, "count": len(out)})
}

// createOneUser answers POST /users.json (Create User) and POST
// /users/create_or_update.json (Create Or Update User): 201 with the user
// created, 200 with the user updated, 422 RecordInvalid with the field
// errors otherwise (an e-mail already taken, for Create User).
func (s *Server) createOneUser(w http.ResponseWriter, r *http.Request, upsert bool) {
	var body struct {
		User map[string]any `json:"user"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.User == nil {
		writeError(w, 400, "InvalidValue", "body must be {\"user\": {…}}")
		return
	}
	res := s.createUser(0, body.User, s.now().UTC(), upsert)
	if !res.Success {
		field := strings.ToLower(strings.SplitN(res.Details, ":", 2)[0])
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"error": "RecordInvalid", "description": "Record validation errors",
			"details": map[string]any{field: []map[string]any{{"description": res.Details, "error": res.Error}}}})
		return
	}
	status := http.StatusCreated
	if res.Action == "update" {
		status = http.StatusOK
	}
	writeJSON(w, status, map[string]any{"user": s.users[res.ID]})
}

func (s *Server) createUser(idx int, item map[string]any, now time.Time, upsert bool) jobResult {
	fail := func(code, details string) jobResult {
		return jobResult{Index: &idx, Success: false, Error: code, Details: details}
	}
	email, _ := item["email"].(string)
	name, _ := item["name"].(string)
	var existing *user
	if email != "" {
		existing = s.userByEmail(email)
	}
	if existing == nil && upsert {
		if ext, _ := item["external_id"].(string); ext != "" {
			for _, u := range s.users {
				if u.ExternalID != nil && *u.ExternalID == ext {
					existing = u
				}
			}
		}
	}
	if existing != nil && !upsert {
		return fail("DuplicateValue", "Email: "+email+" is already being used by another user")
	}
	var orgID *int64
	if _, ok := item["organization_id"]; ok && item["organization_id"] != nil {
		oid := intOf(item["organization_id"])
		if _, ok := s.orgs[oid]; !ok {
			return fail("InvalidValue", fmt.Sprintf("Organization: %d not found", oid))
		}
		orgID = &oid
	}
	if existing != nil {
		if name != "" {
			existing.Name = name
		}
		if orgID != nil {
			existing.OrgID = orgID
		}
		if role, _ := item["role"].(string); role != "" {
			existing.Role = role
		}
		if v, ok := item["verified"].(bool); ok {
			existing.Verified = v
		}
		existing.UpdatedAt = now
		return jobResult{Index: &idx, ID: existing.ID, Action: "update", Status: "Updated", Success: true, Email: existing.Email}
	}
	if email == "" {
		return fail("InvalidValue", "Email: cannot be blank")
	}
	if strings.TrimSpace(name) == "" {
		return fail("InvalidValue", "Name: cannot be blank")
	}
	role, _ := item["role"].(string)
	if role == "" {
		role = "end-user"
	}
	verified, _ := item["verified"].(bool)
	u := &user{ID: s.newID(), Name: name, Email: email, OrgID: orgID, Role: role, Verified: verified, Active: true,
		Tags: []string{}, Fields: map[string]any{}, CreatedAt: now, UpdatedAt: now}
	u.URL = s.apiURL("users", u.ID)
	if ext, _ := item["external_id"].(string); ext != "" {
		u.ExternalID = &ext
	}
	if tags, ok := item["tags"]; ok {
		u.Tags = stringsOf(tags)
	}
	s.putUser(u)
	return jobResult{Index: &idx, ID: u.ID, Action: "create", Status: "Created", Success: true, Email: email}
}
