package zendesktest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/zdsync/zdsync/syncer"
)

// serve answers every request: the latency, the request hook, the call
// counts, the rate limits and injected faults, basic authentication, then
// the endpoint's handler.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	endpoint := Endpoint(r.URL.Path)
	s.mu.Lock()
	latency, hook := s.latency, s.onRequest
	s.mu.Unlock()
	if hook != nil {
		hook(r.Method, endpoint)
	}
	if latency > 0 && syncer.Sleep(r.Context(), latency) != nil {
		return
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

	if f != nil && f.delay > 0 && syncer.Sleep(r.Context(), f.delay) != nil {
		return
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
		writePage(w, r, "organizations", s.sortedOrgIDs(), func(id int64) *org { return s.orgs[id] })
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
		writeRecord(w, "organization", s.orgs, id)
	case r.Method == "GET" && len(seg) == 3 && seg[0] == "organizations" && seg[2] == "tickets" && id != 0:
		s.orgTickets(w, r, id)
	case r.Method == "GET" && p == "/users":
		writePage(w, r, "users", s.sortedUserIDs(), func(id int64) *user { return s.users[id] })
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
		writeRecord(w, "user", s.users, id)
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

// writePage answers one cursor page (page[size], page[after]) of the
// records with the sorted ids under key, each record read by get.
func writePage[T any](w http.ResponseWriter, r *http.Request, key string, ids []int64, get func(id int64) T) {
	size, after, ok := pageParams(w, r.URL.Query())
	if !ok {
		return
	}
	pageIDs, meta, links := page(r, ids, size, after)
	out := make([]T, 0, len(pageIDs))
	for _, id := range pageIDs {
		out = append(out, get(id))
	}
	writeJSON(w, http.StatusOK, map[string]any{key: out, "meta": meta, "links": links})
}

// writeRecord answers the record with the given id of m under key, or 404.
func writeRecord[T any](w http.ResponseWriter, key string, m map[int64]T, id int64) {
	rec, ok := m[id]
	if !ok {
		writeError(w, 404, "RecordNotFound", "Not found")
		return
	}
	writeJSON(w, 200, map[string]any{key: rec})
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
