package syncer

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Reasons a federal contact is skipped: the rules of README, "Which orgs
// and users are the sync's".
const (
	ReasonNoEmail     = "contact has no e-mail"
	ReasonBadEmail    = "contact e-mail is not a valid address"
	ReasonNoName      = "contact has no name"
	ReasonNoAccount   = "contact has no account"
	ReasonAmbiguous   = "e-mail is on contacts of different accounts"
	ReasonNoOrg       = "account has no federal org yet"
	ReasonNotEndUser  = "Zendesk user with this e-mail is not an end-user"
	ReasonInactive    = "contact is inactive"
	reasonDuplicateOK = "same e-mail twice on one account: one user"
)

// PlanUsers compares the federal contacts with the federal Zendesk users and
// orgs and returns the user changes. It is pure. Contacts with no e-mail, no
// name or no account are dropped; e-mails are compared trimmed and
// case-insensitively; an e-mail on contacts of different accounts is skipped
// as ambiguous, never guessed; the same e-mail twice on one account is one
// user; a contact whose account has no federal org yet is skipped. Only
// end-users are ever changed, and only their name and organization.
func PlanUsers(contacts []Contact, users []User, orgs []Org) Plan {
	orgByAccount := map[string]int64{}
	for _, o := range orgs {
		if IsAccountID(o.ExternalID) {
			orgByAccount[o.ExternalID] = o.ID
		}
	}
	userByEmail := map[string]User{}
	for _, u := range users {
		if e := NormalizeEmail(u.Email); e != "" {
			userByEmail[e] = u
		}
	}
	groups, p := groupContacts(contacts)
	for _, g := range groups {
		c, changed := planUser(g, orgByAccount, userByEmail)
		if !changed {
			p.Unchanged++
			continue
		}
		p.Changes = append(p.Changes, c)
	}
	return p
}

// emailGroup is the contacts of one e-mail: the user they make.
type emailGroup struct {
	email    string
	name     string
	accounts []string
}

// groupContacts drops the contacts that cannot make a user (a plan of
// their skips) and groups the others by e-mail, in e-mail order.
func groupContacts(contacts []Contact) ([]*emailGroup, Plan) {
	var p Plan
	byEmail := map[string]*emailGroup{}
	for _, c := range contacts {
		email := NormalizeEmail(c.Email)
		if reason := contactProblem(c, email); reason != "" {
			key := cmp.Or(email, strings.TrimSpace(c.Name), c.AccountID)
			p.Changes = append(p.Changes, Change{Action: Skip, Kind: "user", Key: key, Name: c.Name, Reason: reason + accountNote(c)})
			continue
		}
		g := byEmail[email]
		if g == nil {
			g = &emailGroup{email: email, name: strings.TrimSpace(c.Name)}
			byEmail[email] = g
		} else if n := strings.TrimSpace(c.Name); n < g.name {
			// Contacts sharing an e-mail may differ in name; Salesforce
			// promises no order, so the first name in sort order wins
			// rather than the first returned: no rename back and forth.
			g.name = n
		}
		if !slices.Contains(g.accounts, c.AccountID) {
			g.accounts = append(g.accounts, c.AccountID)
		}
	}
	groups := slices.Collect(maps.Values(byEmail))
	slices.SortFunc(groups, func(a, b *emailGroup) int { return strings.Compare(a.email, b.email) })
	return groups, p
}

// contactProblem says why a contact cannot make a user ("" when it can).
func contactProblem(c Contact, email string) string {
	switch {
	case c.Inactive:
		return ReasonInactive
	case email == "":
		return ReasonNoEmail
	case !ValidEmail(email):
		return ReasonBadEmail
	case strings.TrimSpace(c.Name) == "":
		return ReasonNoName
	case c.AccountID == "":
		return ReasonNoAccount
	}
	return ""
}

// planUser returns the change the user of one e-mail needs, and false when
// the user is already as it should be.
func planUser(g *emailGroup, orgByAccount map[string]int64, userByEmail map[string]User) (Change, bool) {
	if len(g.accounts) > 1 {
		accts := slices.Sorted(slices.Values(g.accounts))
		return Change{Action: Skip, Kind: "user", Key: g.email, Name: g.name,
			Reason: ReasonAmbiguous + " (" + strings.Join(accts, ", ") + ")"}, true
	}
	account := g.accounts[0]
	orgID, ok := orgByAccount[account]
	if !ok {
		return Change{Action: Skip, Kind: "user", Key: g.email, Name: g.name, Reason: ReasonNoOrg + " (" + account + ")"}, true
	}
	want := UserWrite{Email: g.email, Name: g.name, OrgID: orgID}
	u, exists := userByEmail[g.email]
	if !exists {
		return Change{Action: Create, Kind: "user", Key: g.email, Name: g.name, Parent: account, User: &want}, true
	}
	if u.Role != "" && u.Role != "end-user" {
		return Change{Action: Skip, Kind: "user", Key: g.email, Name: u.Name, ID: u.ID, Reason: ReasonNotEndUser + " (" + u.Role + ")"}, true
	}
	var diffs []FieldDiff
	if u.Name != want.Name {
		diffs = append(diffs, FieldDiff{Field: "name", Before: u.Name, After: want.Name})
	}
	if u.OrgID != want.OrgID {
		diffs = append(diffs, FieldDiff{Field: "organization_id", Before: idText(u.OrgID), After: idText(want.OrgID)})
	}
	if len(diffs) == 0 {
		return Change{}, false
	}
	want.Existing = true
	return Change{Action: Update, Kind: "user", Key: g.email, Name: u.Name, ID: u.ID, Parent: account,
		Diffs: diffs, User: &want, Before: mustJSON(u)}, true
}

func accountNote(c Contact) string {
	if c.AccountID == "" {
		return ""
	}
	return " (" + c.AccountID + ")"
}

func idText(id int64) string {
	if id == 0 {
		return ""
	}
	return fmt.Sprint(id)
}
