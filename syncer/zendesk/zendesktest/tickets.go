package zendesktest

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/zdsync/zdsync/syncer"
)

type ticket struct {
	ID           int64         `json:"id"`
	URL          string        `json:"url"`
	Subject      string        `json:"subject"`
	Description  string        `json:"description"`
	Priority     *string       `json:"priority"`
	Status       string        `json:"status"`
	OrgID        *int64        `json:"organization_id"`
	RequesterID  int64         `json:"requester_id"`
	CustomFields []customField `json:"custom_fields"`
	Tags         []string      `json:"tags"`
	CreatedAt    time.Time     `json:"created_at"`
	UpdatedAt    time.Time     `json:"updated_at"`
}

type customField struct {
	ID    int64 `json:"id"`
	Value any   `json:"value"`
}

// AddTicket stores a ticket and returns its ID. Its CaseID, when set, goes
// in the case-ID custom field; an empty Status means "new"; CreatedAt and
// UpdatedAt default to the server's clock.
func (s *Server) AddTicket(t syncer.Ticket) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.takeID(t.ID)
	now := s.now().UTC()
	rec := &ticket{ID: id, URL: s.apiURL("tickets", id), Subject: t.Subject, Description: t.Description,
		Status: t.Status, RequesterID: t.RequesterID, Tags: []string{}, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
	if rec.Status == "" {
		rec.Status = "new"
	}
	if t.Priority != "" {
		p := t.Priority
		rec.Priority = &p
	}
	if t.OrgID != 0 {
		oid := t.OrgID
		rec.OrgID = &oid
	}
	if rec.CreatedAt.IsZero() {
		rec.CreatedAt = now
	}
	if rec.UpdatedAt.IsZero() {
		rec.UpdatedAt = now
	}
	var cv any
	if t.CaseID != "" {
		cv = t.CaseID
	}
	rec.CustomFields = []customField{{ID: s.caseField, Value: cv}}
	s.tickets[id] = rec
	return id
}

// SetTicketStatus changes a ticket's status and its updated_at.
func (s *Server) SetTicketStatus(id int64, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.tickets[id]; ok {
		t.Status = status
		t.UpdatedAt = s.now().UTC()
	}
}

// SetTicketCustomField sets one custom field of a ticket to value (a string,
// a number, a bool or nil, as Zendesk stores them).
func (s *Server) SetTicketCustomField(id, fieldID int64, value any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.tickets[id]; ok {
		setCustomField(t, fieldID, value)
	}
}

func setCustomField(t *ticket, fieldID int64, value any) {
	for i := range t.CustomFields {
		if t.CustomFields[i].ID == fieldID {
			t.CustomFields[i].Value = value
			return
		}
	}
	t.CustomFields = append(t.CustomFields, customField{ID: fieldID, Value: value})
}

// Tickets returns every ticket, ordered by ID, with CaseID read from the
// case-ID custom field.
func (s *Server) Tickets() []syncer.Ticket {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []syncer.Ticket
	for _, t := range sortedTickets(s.tickets) {
		d := syncer.Ticket{ID: t.ID, Subject: t.Subject, Description: t.Description, Status: t.Status,
			RequesterID: t.RequesterID, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
		if t.Priority != nil {
			d.Priority = *t.Priority
		}
		if t.OrgID != nil {
			d.OrgID = *t.OrgID
		}
		for _, cf := range t.CustomFields {
			if cf.ID == s.caseField && cf.Value != nil {
				d.CaseID = fmt.Sprint(cf.Value)
			}
		}
		out = append(out, d)
	}
	return out
}

func sortedTickets(m map[int64]*ticket) []*ticket {
	out := make([]*ticket, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// orgTickets answers an organization's tickets in cursor pages.
func (s *Server) orgTickets(w http.ResponseWriter, r *http.Request, orgID int64) {
	if _, ok := s.orgs[orgID]; !ok {
		writeError(w, 404, "RecordNotFound", "Not found")
		return
	}
	var ids []int64
	for _, t := range sortedTickets(s.tickets) {
		if t.OrgID != nil && *t.OrgID == orgID {
			ids = append(ids, t.ID)
		}
	}
	writePage(w, r, "tickets", ids, func(id int64) *ticket { return s.tickets[id] })
}

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
