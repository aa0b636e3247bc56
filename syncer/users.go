package syncer

import (
	"fmt"
	"slices"
	"sort"
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
	var p Plan
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

	type group struct {
		email    string
		name     string
		accounts []string
	}
	groups := map[string]*group{}
	var order []string
	for _, c := range contacts {
		email := NormalizeEmail(c.Email)
		skip := func(reason string) {
			key := email
			if key == "" {
				key = strings.TrimSpace(c.Name)
			}
			if key == "" {
				key = c.AccountID
			}
			p.Changes = append(p.Changes, Change{Action: Skip, Kind: "user", Key: key, Name: c.Name, Reason: reason + accountNote(c)})
		}
		switch {
		case c.Inactive:
			skip(ReasonInactive)
			continue
		case email == "":
			skip(ReasonNoEmail)
			continue
		case !ValidEmail(email):
			skip(ReasonBadEmail)
			continue
		case strings.TrimSpace(c.Name) == "":
			skip(ReasonNoName)
			continue
		case c.AccountID == "":
			skip(ReasonNoAccount)
			continue
		}
		g := groups[email]
		if g == nil {
			g = &group{email: email, name: strings.TrimSpace(c.Name)}
			groups[email] = g
			order = append(order, email)
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
	sort.Strings(order)
	for _, email := range order {
		g := groups[email]
		if len(g.accounts) > 1 {
			accts := slices.Sorted(slices.Values(g.accounts))
			p.Changes = append(p.Changes, Change{Action: Skip, Kind: "user", Key: email, Name: g.name,
				Reason: ReasonAmbiguous + " (" + strings.Join(accts, ", ") + ")"})
			continue
		}
		account := g.accounts[0]
		orgID, ok := orgByAccount[account]
		if !ok {
			p.Changes = append(p.Changes, Change{Action: Skip, Kind: "user", Key: email, Name: g.name, Reason: ReasonNoOrg + " (" + account + ")"})
			continue
		}
		want := UserWrite{Email: email, Name: g.name, OrgID: orgID}
		u, exists := userByEmail[email]
		if !exists {
			p.Changes = append(p.Changes, Change{Action: Create, Kind: "user", Key: email, Name: g.name, Parent: account, User: &want})
			continue
		}
		if u.Role != "" && u.Role != "end-user" {
			p.Changes = append(p.Changes, Change{Action: Skip, Kind: "user", Key: email, Name: u.Name, ID: u.ID, Reason: ReasonNotEndUser + " (" + u.Role + ")"})
			continue
		}
		var diffs []FieldDiff
		if u.Name != want.Name {
			diffs = append(diffs, FieldDiff{Field: "name", Before: u.Name, After: want.Name})
		}
		if u.OrgID != want.OrgID {
			diffs = append(diffs, FieldDiff{Field: "organization_id", Before: idText(u.OrgID), After: idText(want.OrgID)})
		}
		if len(diffs) == 0 {
			p.Unchanged++
			continue
		}
		want.Existing = true
		p.Changes = append(p.Changes, Change{Action: Update, Kind: "user", Key: email, Name: u.Name, ID: u.ID, Parent: account,
			Diffs: diffs, User: &want, Before: mustJSON(u)})
	}
	return p
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
