package zendesk

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/zdsync/zdsync/syncer"
)

// apiTicket is a ticket as the API sends it, decoded here rather than by
// the library, whose Ticket fails on numeric custom field values.
type apiTicket struct {
	ID           int64     `json:"id"`
	Subject      string    `json:"subject"`
	Description  string    `json:"description"`
	Priority     string    `json:"priority"`
	Status       string    `json:"status"`
	OrgID        int64     `json:"organization_id"`
	RequesterID  int64     `json:"requester_id"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
	CustomFields []struct {
		ID    int64           `json:"id"`
		Value json.RawMessage `json:"value"`
	} `json:"custom_fields"`
}

type apiUser struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

func (c *Client) ticketFromAPI(t apiTicket, users map[int64]apiUser) syncer.Ticket {
	out := syncer.Ticket{
		ID: t.ID, Subject: t.Subject, Description: t.Description, Priority: t.Priority, Status: t.Status,
		OrgID: t.OrgID, RequesterID: t.RequesterID, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt,
		URL: fmt.Sprintf("%s/agent/tickets/%d", c.base, t.ID),
	}
	if u, ok := users[t.RequesterID]; ok {
		out.RequesterName, out.RequesterEmail = u.Name, u.Email
	}
	for _, cf := range t.CustomFields {
		if c.caseField != 0 && cf.ID == c.caseField {
			out.CaseID = fieldText(cf.Value)
		}
	}
	return out
}

// fieldText renders a custom field value (a string, a number, a bool or
// null) as text; null is "".
func fieldText(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// GetTicket returns a ticket with its requester's name and e-mail
// (GET /tickets/{id}.json?include=users, and GET /users/{id}.json when the
// requester was not sideloaded) and its case ID read from the case-ID
// custom field.
func (c *Client) GetTicket(ctx context.Context, id int64) (syncer.Ticket, error) {
	rec := strconv.FormatInt(id, 10)
	var resp struct {
		Ticket *apiTicket `json:"ticket"`
		Users  []apiUser  `json:"users"`
	}
	if err := c.get(ctx, "get ticket", rec, fmt.Sprintf("/tickets/%d.json?include=users", id), &resp); err != nil {
		return syncer.Ticket{}, err
	}
	if resp.Ticket == nil {
		return syncer.Ticket{}, &syncer.Error{Code: syncer.CodeBadResponse, Op: "get ticket", Record: rec, Message: "the answer holds no ticket"}
	}
	users := map[int64]apiUser{}
	for _, u := range resp.Users {
		users[u.ID] = u
	}
	if _, ok := users[resp.Ticket.RequesterID]; !ok && resp.Ticket.RequesterID != 0 {
		var ur struct {
			User apiUser `json:"user"`
		}
		if err := c.get(ctx, "get ticket requester", rec, fmt.Sprintf("/users/%d.json", resp.Ticket.RequesterID), &ur); err != nil {
			return syncer.Ticket{}, err
		}
		users[ur.User.ID] = ur.User
	}
	return c.ticketFromAPI(*resp.Ticket, users), nil
}

// SetTicketCaseID writes caseID into the ticket's case-ID custom field with
// PUT /tickets/{id}.json carrying only that custom field.
func (c *Client) SetTicketCaseID(ctx context.Context, ticketID int64, caseID string) error {
	rec := strconv.FormatInt(ticketID, 10)
	if c.caseField == 0 {
		return &syncer.Error{Code: syncer.CodeInternal, Op: "set ticket case ID", Record: rec, Message: "no case ID custom field is configured (ZENDESK_CASE_ID_FIELD)"}
	}
	body := map[string]any{"ticket": map[string]any{
		"custom_fields": []map[string]any{{"id": c.caseField, "value": caseID}},
	}}
	if _, err := c.api.Put(ctx, fmt.Sprintf("/tickets/%d.json", ticketID), body); err != nil {
		return classify("set ticket case ID", rec, err)
	}
	return nil
}

// TicketsSince reads one page of the incremental ticket export (GET
// /incremental/tickets/cursor.json, with start_time=since when cursor is
// empty, else cursor=…), with requesters sideloaded. Export requests are
// paced by their own limiter at ExportRequestsPerMinute.
func (c *Client) TicketsSince(ctx context.Context, cursor string, since time.Time) ([]syncer.Ticket, string, bool, error) {
	q := url.Values{"include": {"users"}}
	if cursor != "" {
		q.Set("cursor", cursor)
	} else {
		q.Set("start_time", strconv.FormatInt(since.Unix(), 10))
	}
	var resp struct {
		Tickets     []apiTicket `json:"tickets"`
		Users       []apiUser   `json:"users"`
		AfterCursor string      `json:"after_cursor"`
		EndOfStream bool        `json:"end_of_stream"`
	}
	if err := c.get(ctx, "export tickets", "", "/incremental/tickets/cursor.json?"+q.Encode(), &resp); err != nil {
		return nil, "", false, err
	}
	users := map[int64]apiUser{}
	for _, u := range resp.Users {
		users[u.ID] = u
	}
	out := make([]syncer.Ticket, 0, len(resp.Tickets))
	for _, t := range resp.Tickets {
		out = append(out, c.ticketFromAPI(t, users))
	}
	next := resp.AfterCursor
	if next == "" {
		next = cursor
	}
	return out, next, resp.EndOfStream, nil
}
