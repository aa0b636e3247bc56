package salesforce

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	gosf "github.com/k-capehart/go-salesforce/v2"

	"github.com/zdsync/zdsync/syncer"
)

// The Case sObject and the custom fields that link a case to its Zendesk
// ticket.
const (
	CaseObject         = "Case"
	CaseTicketIDField  = "Zendesk_Ticket_ID__c"
	CaseTicketURLField = "Zendesk_Ticket_URL__c"
	// CaseStatusClosed is the Status CloseCase sets.
	CaseStatusClosed = "Closed"
)

// MaxIDsPerQuery is how many case IDs CaseStatuses puts in one
// "WHERE Id IN (…)" query. SOQL statements may be up to 100,000 characters
// and a GET URI about 16,000 (Salesforce SOQL and SOSL Reference, "SOQL and
// SOSL Limits"); 200 IDs stay far below both once URL-encoded.
const MaxIDsPerQuery = 200

// caseSelect is the field list of the adapter's Case queries.
const caseSelect = "Id, Status, Subject, Description, Priority, Origin, AccountId, SuppliedEmail, SuppliedName, " +
	CaseTicketIDField + ", " + CaseTicketURLField

// FindCaseQuery returns the SOQL FindCase runs for a ticket: the oldest case
// whose Zendesk_Ticket_ID__c is the ticket ID.
func FindCaseQuery(ticketID int64) string {
	return "SELECT " + caseSelect + " FROM " + CaseObject + " WHERE " + CaseTicketIDField + " = '" +
		strconv.FormatInt(ticketID, 10) + "' ORDER BY CreatedDate LIMIT 1"
}

// FindCase returns the case made for a Zendesk ticket, if there is one.
func (c *Client) FindCase(ctx context.Context, ticketID int64) (syncer.Case, bool, error) {
	const op = "find case for ticket"
	rec := strconv.FormatInt(ticketID, 10)
	if ticketID <= 0 {
		return syncer.Case{}, false, &syncer.Error{Code: syncer.CodeInvalidInput, Op: op, Record: rec, Message: "invalid ticket ID"}
	}
	var found []map[string]any
	q := FindCaseQuery(ticketID)
	err := c.call(ctx, op, rec, func() error {
		return c.queryEach(ctx, q, func(_ int, r map[string]any) { found = append(found, r) })
	})
	if err != nil {
		return syncer.Case{}, false, err
	}
	if len(found) == 0 {
		return syncer.Case{}, false, nil
	}
	return decodeCase(found[0]), true, nil
}

func decodeCase(r map[string]any) syncer.Case {
	s := func(k string) string { v, _ := r[k].(string); return v }
	c := syncer.Case{
		ID: s("Id"), Status: s("Status"), Subject: s("Subject"), Description: s("Description"),
		Priority: s("Priority"), Origin: s("Origin"), AccountID: s("AccountId"),
		Email: s("SuppliedEmail"), Name: s("SuppliedName"), TicketURL: s(CaseTicketURLField),
	}
	switch v := r[CaseTicketIDField].(type) {
	case string:
		c.TicketID, _ = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	case float64:
		c.TicketID = int64(v)
	}
	return c
}

// caseRecord returns the fields of a case create: only the non-empty ones,
// so nothing in Salesforce is blanked.
func caseRecord(cs syncer.Case) map[string]any {
	m := map[string]any{}
	put := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	put("Subject", cs.Subject)
	put("Description", cs.Description)
	put("Priority", cs.Priority)
	put("Status", cs.Status)
	put("Origin", cs.Origin)
	put("AccountId", cs.AccountID)
	put("SuppliedEmail", cs.Email)
	put("SuppliedName", cs.Name)
	if cs.TicketID > 0 {
		m[CaseTicketIDField] = strconv.FormatInt(cs.TicketID, 10)
	}
	put(CaseTicketURLField, cs.TicketURL)
	return m
}

// CreateCase creates a case and returns its ID. A parent account that does
// not exist is CodeInsufficientAccess (silent); a lock conflict is
// CodeUnableToLockRow (retried).
func (c *Client) CreateCase(ctx context.Context, cs syncer.Case) (string, error) {
	const op = "create case for ticket"
	rec := strconv.FormatInt(cs.TicketID, 10)
	var id string
	err := c.call(ctx, op, rec, func() error {
		body, err := json.Marshal(caseRecord(cs))
		if err != nil {
			return err
		}
		var res gosf.SalesforceResult
		if err := c.do(ctx, http.MethodPost, "/sobjects/"+CaseObject+"/", body, &res); err != nil {
			return err
		}
		if !res.Success || res.Id == "" {
			return resultError(res.Errors)
		}
		id = res.Id
		return nil
	})
	return id, err
}

// closeCaseBody is the update CloseCase sends: the Status, and nothing else.
const closeCaseBody = `{"Status":"` + CaseStatusClosed + `"}`

// CloseCase sets the case's Status to Closed, and nothing else.
func (c *Client) CloseCase(ctx context.Context, caseID string) error {
	const op = "close case"
	id, err := syncer.NormalizeID(caseID)
	if err != nil {
		return syncer.WithOp(err, op, caseID)
	}
	return c.call(ctx, op, caseID, func() error {
		return c.do(ctx, http.MethodPatch, "/sobjects/"+CaseObject+"/"+id, []byte(closeCaseBody), nil)
	})
}

// CaseStatuses returns the Status of each given case that exists, keyed by
// the ID as given. It queries at most MaxIDsPerQuery IDs at a time.
func (c *Client) CaseStatuses(ctx context.Context, caseIDs []string) (map[string]string, error) {
	const op = "read case statuses"
	out := map[string]string{}
	given := map[string][]string{} // 18-character ID -> IDs as given
	var ids []string
	for _, raw := range caseIDs {
		id, err := syncer.NormalizeID(raw)
		if err != nil {
			return nil, syncer.WithOp(err, op, raw)
		}
		if _, dup := given[id]; !dup {
			ids = append(ids, id)
		}
		given[id] = append(given[id], raw)
	}
	for start := 0; start < len(ids); start += MaxIDsPerQuery {
		chunk := ids[start:min(start+MaxIDsPerQuery, len(ids))]
		q := "SELECT Id, Status FROM " + CaseObject + " WHERE Id IN ('" + strings.Join(chunk, "', '") + "')"
		rec := fmt.Sprintf("%d IDs from %s", len(chunk), chunk[0])
		err := c.call(ctx, op, rec, func() error {
			return c.queryEach(ctx, q, func(_ int, r map[string]any) {
				id, _ := r["Id"].(string)
				status, _ := r["Status"].(string)
				if n, err := syncer.NormalizeID(id); err == nil {
					id = n
				}
				for _, raw := range given[id] {
					out[raw] = status
				}
			})
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
