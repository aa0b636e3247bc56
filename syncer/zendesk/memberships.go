package zendesk

import (
	"context"
	"fmt"

	"github.com/zdsync/zdsync/syncer"
)

// OrgMembers lists the memberships of an org with GET
// /organizations/{id}/organization_memberships.json in cursor pages of
// PageSize (Zendesk API, Organization Memberships, "List Memberships"):
// what the before-image of a deletion keeps, so that an undo can attach
// the users again.
func (c *Client) OrgMembers(ctx context.Context, orgID int64) ([]syncer.Membership, error) {
	type membersPage struct {
		Memberships []struct {
			UserID         int64 `json:"user_id"`
			OrganizationID int64 `json:"organization_id"`
			Default        *bool `json:"default"` // null for a membership that is not the default
		} `json:"organization_memberships"`
		Meta cursorMeta `json:"meta"`
	}
	var out []syncer.Membership
	path := fmt.Sprintf("/organizations/%d/organization_memberships.json", orgID)
	err := readPages(ctx, c, "list org memberships", fmt.Sprint(orgID), path, func(p *membersPage) (cursorMeta, bool) {
		for _, m := range p.Memberships {
			out = append(out, syncer.Membership{UserID: m.UserID, OrgID: m.OrganizationID, Default: m.Default != nil && *m.Default})
		}
		return p.Meta, true
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// AddMembers attaches users to orgs with POST
// /organization_memberships/create_many.json (Zendesk API, Organization
// Memberships, "Create Many Memberships": up to 100 a job), one result a
// membership, in order.
func (c *Client) AddMembers(ctx context.Context, ms []syncer.Membership) []syncer.WriteResult {
	return c.runBulk(ctx, bulkSpec{
		op: "add org member", method: "POST", path: "/organization_memberships/create_many.json", key: "organization_memberships", n: len(ms),
		record:  func(i int) string { return fmt.Sprintf("user %d", ms[i].UserID) },
		payload: func(i int) any { return map[string]any{"user_id": ms[i].UserID, "organization_id": ms[i].OrgID} },
	})
}

// OrgHasTickets reports whether the org has any ticket, whatever its
// status, with one GET /organizations/{id}/tickets.json?page[size]=1: an
// undo deletes an org it created only if it has none.
func (c *Client) OrgHasTickets(ctx context.Context, orgID int64) (bool, error) {
	var resp struct {
		Tickets []struct {
			ID int64 `json:"id"`
		} `json:"tickets"`
	}
	path := fmt.Sprintf("/organizations/%d/tickets.json?page%%5Bsize%%5D=1", orgID)
	if err := c.get(ctx, "list org tickets", fmt.Sprint(orgID), path, &resp); err != nil {
		return false, err
	}
	return len(resp.Tickets) > 0, nil
}
