package zendesktest

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	endpoint := Endpoint(r.URL.Path)
	s.mu.Lock()
	latency, hook := s.latency, s.onRequest
	s.mu.Unlock()
	if hook != nil {
		hook(r.Method, endpoint)
	}
	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	s.mu.Lock()
	s.calls[r.Method+" "+endpoint]++
	if r.Method != http.MethodGet {
		s.writeCalls++
	}
	rh, retryAfter := s.countRate(endpoint)
	f := s.takeFault(r.Method, endpoint)
	s.mu.Unlock()

	w.Header().Set("X-Rate-Limit", strconv.Itoa(rh.limit))
	w.Header().Set("X-Rate-Limit-Remaining", strconv.Itoa(rh.remaining))
	w.Header().Set("Ratelimit-Reset", strconv.Itoa(rh.reset))

	if f != nil && f.delay > 0 {
		t := time.NewTimer(f.delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if f != nil && f.status != 0 {
		switch {
		case f.status == http.StatusTooManyRequests:
			w.Header().Set("Retry-After", strconv.Itoa(f.retry))
			writeError(w, f.status, "TooManyRequests", "You have exceeded the rate limit")
		case f.body != nil:
			writeJSON(w, f.status, f.body)
		default:
			writeError(w, f.status, "ServerError", http.StatusText(f.status))
		}
		return
	}
	if f != nil && f.drop {
		if f.after {
			s.route(httptest.NewRecorder(), r, endpoint)
		}
		hijackClose(w)
		return
	}
	if retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
		writeError(w, http.StatusTooManyRequests, "TooManyRequests", "You have exceeded the rate limit")
		return
	}
	if !s.authorized(r) {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "Couldn't authenticate you"})
		return
	}
	s.route(w, r, endpoint)
}

func hijackClose(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("zendesktest: response writer cannot be hijacked")
	}
	conn, _, err := hj.Hijack()
	if err == nil {
		_ = conn.Close()
	}
}

func (s *Server) authorized(r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	return ok && user == s.email+"/token" && pass == s.token
}

func (s *Server) route(w http.ResponseWriter, r *http.Request, endpoint string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/api/v2"), ".json")
	seg := strings.Split(strings.Trim(p, "/"), "/")
	q := r.URL.Query()
	id := int64(0)
	if len(seg) > 1 {
		id, _ = strconv.ParseInt(seg[1], 10, 64)
	}
	switch {
	case r.Method == "GET" && p == "/organizations":
		s.listOrgs(w, r, q, nil)
	case r.Method == "GET" && p == "/organizations/count":
		writeJSON(w, http.StatusOK, map[string]any{"count": map[string]any{"value": len(s.orgs), "refreshed_at": time.Now().UTC().Format(time.RFC3339)}})
	case r.Method == "GET" && p == "/organizations/show_many":
		s.showManyOrgs(w, q)
	case r.Method == "POST" && p == "/organizations/create_many":
		s.submit(w, r, endpoint, "create_many_organizations", "organizations")
	case r.Method == "PUT" && p == "/organizations/update_many":
		s.submit(w, r, endpoint, "update_many_organizations", "organizations")
	case r.Method == "DELETE" && p == "/organizations/destroy_many":
		s.submitDestroy(w, q, endpoint)
	case r.Method == "GET" && len(seg) == 2 && seg[0] == "organizations" && id != 0:
		o, ok := s.orgs[id]
		if !ok {
			writeError(w, 404, "RecordNotFound", "Not found")
			return
		}
		writeJSON(w, 200, map[string]any{"organization": o})
	case r.Method == "GET" && len(seg) == 3 && seg[0] == "organizations" && seg[2] == "tickets" && id != 0:
		s.orgTickets(w, r, q, id)
	case r.Method == "GET" && p == "/users":
		s.listUsers(w, r, q)
	case r.Method == "GET" && p == "/users/search":
		s.searchUsers(w, q)
	case r.Method == "GET" && p == "/users/show_many":
		s.showManyUsers(w, q)
	case r.Method == "POST" && (p == "/users/create_many" || p == "/users/create_or_update_many") && s.refuseBulkUsers:
		writeJSON(w, http.StatusForbidden, DataImportsDisabledBody)
	case r.Method == "POST" && p == "/users/create_many":
		s.submit(w, r, endpoint, "create_many_users", "users")
	case r.Method == "POST" && p == "/users/create_or_update_many":
		s.submit(w, r, endpoint, "create_or_update_many_users", "users")
	case r.Method == "POST" && (p == "/users" || p == "/users/create_or_update"):
		s.createOneUser(w, r, p == "/users/create_or_update")
	case r.Method == "GET" && len(seg) == 2 && seg[0] == "users" && id != 0:
		u, ok := s.users[id]
		if !ok {
			writeError(w, 404, "RecordNotFound", "Not found")
			return
		}
		writeJSON(w, 200, map[string]any{"user": u})
	case r.Method == "GET" && len(seg) == 2 && seg[0] == "tickets" && id != 0:
		s.showTicket(w, q, id)
	case r.Method == "PUT" && len(seg) == 2 && seg[0] == "tickets" && id != 0:
		s.updateTicket(w, r, id)
	case r.Method == "GET" && p == "/incremental/tickets/cursor":
		s.exportTickets(w, r, q)
	case r.Method == "GET" && len(seg) == 2 && seg[0] == "job_statuses":
		s.showJob(w, seg[1])
	default:
		if s.routeMemberships(w, r, endpoint, p, seg, id) {
			return
		}
		writeError(w, 404, "InvalidEndpoint", "Not found: "+r.Method+" "+r.URL.Path)
	}
}

// --- cursor pagination ---

// pageParams reads page[size] and page[after]; it answers 400 and returns
// false for a size over MaxPageSize or a malformed cursor.
func pageParams(w http.ResponseWriter, q url.Values) (size int, after int64, ok bool) {
	size = MaxPageSize
	if v := q.Get("page[size]"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxPageSize {
			writeError(w, 400, "InvalidPaginationParameter", fmt.Sprintf("page[size] must be between 1 and %d", MaxPageSize))
			return 0, 0, false
		}
		size = n
	}
	if c := q.Get("page[after]"); c != "" {
		v, okc := decodeCursor(c)
		n, err := strconv.ParseInt(v, 10, 64)
		if !okc || err != nil {
			writeError(w, 400, "InvalidPaginationParameter", "invalid cursor")
			return 0, 0, false
		}
		after = n
	}
	return size, after, true
}

// page cuts ids (sorted) after the cursor and answers the metadata.
func page(r *http.Request, ids []int64, size int, after int64) (out []int64, meta, links map[string]any) {
	start := sort.Search(len(ids), func(i int) bool { return ids[i] > after })
	end := min(start+size, len(ids))
	out = ids[start:end]
	hasMore := end < len(ids)
	meta = map[string]any{"has_more": hasMore, "after_cursor": nil, "before_cursor": nil}
	links = map[string]any{"next": nil, "prev": nil}
	if len(out) > 0 {
		ac := encodeCursor(strconv.FormatInt(out[len(out)-1], 10))
		meta["after_cursor"] = ac
		meta["before_cursor"] = encodeCursor(strconv.FormatInt(out[0], 10))
		if hasMore {
			u := *r.URL
			u.Scheme, u.Host = "http", r.Host
			q := u.Query()
			q.Set("page[after]", ac)
			q.Set("page[size]", strconv.Itoa(size))
			u.RawQuery = q.Encode()
			links["next"] = u.String()
		}
	}
	return out, meta, links
}

func (s *Server) listOrgs(w http.ResponseWriter, r *http.Request, q url.Values, _ []int64) {
	size, after, ok := pageParams(w, q)
	if !ok {
		return
	}
	pageIDs, meta, links := page(r, s.sortedOrgIDs(), size, after)
	out := make([]*org, 0, len(pageIDs))
	for _, id := range pageIDs {
		out = append(out, s.orgs[id])
	}
	writeJSON(w, 200, map[string]any{"organizations": out, "meta": meta, "links": links})
}

func (s *Server) showManyOrgs(w http.ResponseWriter, q url.Values) {
	out := []*org{}
	if v := q.Get("external_ids"); v != "" {
		exts := strings.Split(v, ",")
		if len(exts) > MaxJobItems {
			writeError(w, 400, "InvalidValue", fmt.Sprintf("at most %d external_ids", MaxJobItems))
			return
		}
		for _, ext := range exts {
			out = append(out, s.orgsByExternalID(ext)...)
		}
	} else {
		ids, ok := parseIDs(q.Get("ids"))
		if !ok || len(ids) > MaxJobItems {
			writeError(w, 400, "InvalidValue", "ids must be at most 100 numbers")
			return
		}
		for _, id := range ids {
			if o, ok := s.orgs[id]; ok {
				out = append(out, o)
			}
		}
	}
	writeJSON(w, 200, map[string]any{"organizations": out, "next_page": nil, "previous_page": nil, "count": len(out)})
}

func (s *Server) orgTickets(w http.ResponseWriter, r *http.Request, q url.Values, orgID int64) {
	if _, ok := s.orgs[orgID]; !ok {
		writeError(w, 404, "RecordNotFound", "Not found")
		return
	}
	size, after, ok := pageParams(w, q)
	if !ok {
		return
	}
	var ids []int64
	for _, t := range sortedTickets(s.tickets) {
		if t.OrgID != nil && *t.OrgID == orgID {
			ids = append(ids, t.ID)
		}
	}
	pageIDs, meta, links := page(r, ids, size, after)
	out := make([]*ticket, 0, len(pageIDs))
	for _, id := range pageIDs {
		out = append(out, s.tickets[id])
	}
	writeJSON(w, 200, map[string]any{"tickets": out, "meta": meta, "links": links})
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, q url.Values) {
	size, after, ok := pageParams(w, q)
	if !ok {
		return
	}
	pageIDs, meta, links := page(r, s.sortedUserIDs(), size, after)
	out := make([]*user, 0, len(pageIDs))
	for _, id := range pageIDs {
		out = append(out, s.users[id])
	}
	writeJSON(w, 200, map[string]any{"users": out, "meta": meta, "links": links})
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

// --- tickets ---

func (s *Server) showTicket(w http.ResponseWriter, q url.Values, id int64) {
	t, ok := s.tickets[id]
	if !ok {
		writeError(w, 404, "RecordNotFound", "Not found")
		return
	}
	resp := map[string]any{"ticket": t}
	if strings.Contains(q.Get("include"), "users") {
		users := []*user{}
		if u, ok := s.users[t.RequesterID]; ok {
			users = append(users, u)
		}
		resp["users"] = users
	}
	writeJSON(w, 200, resp)
}

func (s *Server) updateTicket(w http.ResponseWriter, r *http.Request, id int64) {
	t, ok := s.tickets[id]
	if !ok {
		writeError(w, 404, "RecordNotFound", "Not found")
		return
	}
	var body struct {
		Ticket map[string]json.RawMessage `json:"ticket"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Ticket == nil {
		writeError(w, 400, "InvalidValue", "body must be {\"ticket\": {…}}")
		return
	}
	if t.Status == "closed" {
		// "Tickets with a status set to Closed can't be updated […] Only
		// the tags, subject, and priority fields can be edited on closed
		// tickets" (About system ticket rules).
		for k := range body.Ticket {
			if k != "tags" && k != "subject" && k != "priority" {
				writeJSON(w, 422, map[string]any{"error": "RecordInvalid", "description": "Record validation errors",
					"details": map[string]any{"status": []map[string]any{{"description": "Status: closed prevents ticket update"}}}})
				return
			}
		}
	}
	if raw, ok := body.Ticket["custom_fields"]; ok {
		var cfs []customField
		if err := json.Unmarshal(raw, &cfs); err != nil {
			writeError(w, 422, "RecordInvalid", "custom_fields must be a list of {id, value}")
			return
		}
		for _, cf := range cfs {
			setCustomField(t, cf.ID, cf.Value)
		}
	}
	if raw, ok := body.Ticket["status"]; ok {
		_ = json.Unmarshal(raw, &t.Status)
	}
	t.UpdatedAt = s.now().UTC()
	writeJSON(w, 200, map[string]any{"ticket": t})
}

// exportTickets answers the cursor-based incremental ticket export:
// tickets whose updated_at is at or after start_time, oldest first, one page
// of s.exportPage at a time, with after_cursor and end_of_stream.
func (s *Server) exportTickets(w http.ResponseWriter, r *http.Request, q url.Values) {
	all := sortedTickets(s.tickets)
	sort.SliceStable(all, func(i, j int) bool {
		if !all[i].UpdatedAt.Equal(all[j].UpdatedAt) {
			return all[i].UpdatedAt.Before(all[j].UpdatedAt)
		}
		return all[i].ID < all[j].ID
	})
	var afterNano, afterID int64 = math.MinInt64, 0
	if c := q.Get("cursor"); c != "" {
		v, ok := decodeCursor(c)
		parts := strings.SplitN(v, ":", 2)
		if !ok || len(parts) != 2 {
			writeError(w, 400, "InvalidCursor", "invalid cursor")
			return
		}
		afterNano, _ = strconv.ParseInt(parts[0], 10, 64)
		afterID, _ = strconv.ParseInt(parts[1], 10, 64)
	} else {
		st, err := strconv.ParseInt(q.Get("start_time"), 10, 64)
		if err != nil {
			writeError(w, 400, "InvalidValue", "start_time or cursor is required")
			return
		}
		afterNano, afterID = time.Unix(st, 0).UnixNano()-1, math.MaxInt64
	}
	var out []*ticket
	for _, t := range all {
		n := t.UpdatedAt.UnixNano()
		if n < afterNano || (n == afterNano && t.ID <= afterID) {
			continue
		}
		out = append(out, t)
	}
	end := len(out) <= s.exportPage
	if !end {
		out = out[:s.exportPage]
	}
	cursor := q.Get("cursor")
	if len(out) > 0 {
		last := out[len(out)-1]
		cursor = encodeCursor(fmt.Sprintf("%d:%d", last.UpdatedAt.UnixNano(), last.ID))
	} else if cursor == "" {
		cursor = encodeCursor(fmt.Sprintf("%d:%d", afterNano, afterID))
	}
	if out == nil {
		out = []*ticket{}
	}
	u := url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawQuery: url.Values{"cursor": {cursor}}.Encode()}
	resp := map[string]any{"tickets": out, "after_cursor": cursor, "before_cursor": nil,
		"after_url": u.String(), "before_url": nil, "end_of_stream": end, "count": len(out)}
	if strings.Contains(q.Get("include"), "users") {
		users := []*user{}
		seen := map[int64]bool{}
		for _, t := range out {
			if u, ok := s.users[t.RequesterID]; ok && !seen[u.ID] {
				seen[u.ID] = true
				users = append(users, u)
			}
		}
		resp["users"] = users
	}
	writeJSON(w, 200, resp)
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
