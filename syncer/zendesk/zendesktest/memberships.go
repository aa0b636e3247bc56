package zendesktest

import (
	"fmt"
	"net/http"
	"time"
)

// The fake keeps one organization membership a user: its organization_id
// (Zendesk accounts without multiple organizations per user work so).
// Deleting an org ends its memberships, as in Zendesk.

// routeMemberships serves the organization membership endpoints (Zendesk
// API, Organization Memberships): an org's memberships in cursor pages, and
// create_many as a bulk job. The caller holds s.mu. It reports whether it
// answered.
func (s *Server) routeMemberships(w http.ResponseWriter, r *http.Request, endpoint, p string, seg []string, id int64) bool {
	switch {
	case r.Method == "GET" && len(seg) == 3 && seg[0] == "organizations" && seg[2] == "organization_memberships" && id != 0:
		s.orgMemberships(w, r, id)
	case r.Method == "POST" && p == "/organization_memberships/create_many":
		s.submit(w, r, endpoint, "create_many_organization_memberships", "organization_memberships")
	default:
		return false
	}
	return true
}

// membershipID is the fake's ID of a user's membership.
func membershipID(userID int64) int64 { return 1_000_000_000 + userID }

func (s *Server) orgMemberships(w http.ResponseWriter, r *http.Request, orgID int64) {
	o, ok := s.orgs[orgID]
	if !ok {
		writeError(w, 404, "RecordNotFound", "Not found")
		return
	}
	// Pages are cut by membership ID, which follows the user ID.
	var ids []int64
	for _, uid := range s.sortedUserIDs() {
		if u := s.users[uid]; u.OrgID != nil && *u.OrgID == orgID {
			ids = append(ids, membershipID(uid))
		}
	}
	writePage(w, r, "organization_memberships", ids, func(mid int64) map[string]any {
		u := s.users[mid-membershipID(0)]
		return map[string]any{"id": mid, "user_id": u.ID, "organization_id": orgID, "default": true,
			"organization_name": o.Name, "view_tickets": true, "created_at": u.CreatedAt, "updated_at": u.UpdatedAt}
	})
}

// createMembership makes one membership of a create_many job.
func (s *Server) createMembership(idx int, item map[string]any, now time.Time) jobResult {
	fail := func(code, details string) jobResult {
		return jobResult{Index: &idx, Action: "create", Success: false, Error: code, Details: details}
	}
	uid, oid := intOf(item["user_id"]), intOf(item["organization_id"])
	u, ok := s.users[uid]
	if !ok {
		return fail("RecordNotFound", fmt.Sprintf("User %d not found", uid))
	}
	if _, ok := s.orgs[oid]; !ok {
		return fail("RecordNotFound", fmt.Sprintf("Organization %d not found", oid))
	}
	switch {
	case u.OrgID != nil && *u.OrgID == oid:
		return fail("DuplicateValue", "User is already a member of this organization")
	case u.OrgID != nil:
		return fail("InvalidValue", fmt.Sprintf("User already belongs to organization %d, and this account allows one organization a user", *u.OrgID))
	}
	u.OrgID = &oid
	u.UpdatedAt = now
	return jobResult{Index: &idx, ID: membershipID(uid), Action: "create", Status: "Created", Success: true}
}
