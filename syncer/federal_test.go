package syncer_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/zdsync/zdsync/syncer"
	"github.com/zdsync/zdsync/syncer/salesforce/salesforcetest"
	"github.com/zdsync/zdsync/syncer/sandbox"
)

func TestFederalOrgsEndToEnd(t *testing.T) {
	e := newEnv(t, sandbox.Options{Seed: 21, Accounts: 20, FederalAccounts: 60})
	before := len(e.sb.Federal.Orgs())
	s := e.run(t, syncer.JobFederalOrgs, syncer.Options{})
	if !s.OK() || s.Created == 0 || s.Updated == 0 || s.Deleted != 0 {
		t.Fatalf("federal-orgs: %s (%s)", s.Headline(), s.Message)
	}
	if got := len(e.sb.Federal.Orgs()); got != before+s.Created {
		t.Errorf("federal orgs %d → %d with %d created: something was deleted", before, got, s.Created)
	}
	for _, o := range e.sb.Federal.Orgs() {
		if _, ok := o.Fields.Lookup("org_region"); ok {
			t.Errorf("federal org %s has the global-only org_region", o.ExternalID)
		}
		for _, tag := range o.Tags {
			if strings.HasPrefix(tag, "partner_") {
				t.Errorf("federal org %s has partner tag %s", o.ExternalID, tag)
			}
		}
	}
	usersBefore := len(e.sb.Federal.Users())
	if s := e.run(t, syncer.JobFederalOrgs, syncer.Options{}); s.Created+s.Updated != 0 {
		t.Errorf("second run: %s", s.Headline())
	}
	if len(e.sb.Federal.Users()) != usersBefore {
		t.Error("federal-orgs created contacts")
	}
}

func TestFederalUsersEndToEnd(t *testing.T) {
	e := newEnv(t, sandbox.Options{Seed: 21, Accounts: 20, FederalAccounts: 60})
	if s := e.run(t, syncer.JobFederalOrgs, syncer.Options{}); !s.OK() {
		t.Fatal(s.Message)
	}
	t.Run("a dry run writes nothing", func(t *testing.T) {
		before := e.sb.Federal.WriteCalls()
		s := e.run(t, syncer.JobFederalUsers, syncer.Options{DryRun: true})
		if e.sb.Federal.WriteCalls() != before || s.Created == 0 {
			t.Errorf("dry run: %s, %d writes", s.Headline(), e.sb.Federal.WriteCalls()-before)
		}
	})
	s := e.run(t, syncer.JobFederalUsers, syncer.Options{})
	if !s.OK() || s.Created == 0 || s.Updated == 0 {
		t.Fatalf("federal-users: %s (%s) %v", s.Headline(), s.Message, s.Errors)
	}
	t.Run("users are attached to the org of their account", func(t *testing.T) {
		orgOf := map[int64]string{}
		for _, o := range e.sb.Federal.Orgs() {
			orgOf[o.ID] = o.ExternalID
		}
		accountOf := map[string]map[string]bool{}
		for _, c := range e.sb.Salesforce.Contacts() {
			email := syncer.NormalizeEmail(c.Email)
			if accountOf[email] == nil {
				accountOf[email] = map[string]bool{}
			}
			accountOf[email][c.AccountID] = true
		}
		checked := 0
		for _, u := range e.sb.Federal.Users() {
			if accts := accountOf[u.Email]; len(accts) == 1 {
				if !accts[orgOf[u.OrgID]] {
					t.Errorf("user %s is in org %d (%s), not its account's", u.Email, u.OrgID, orgOf[u.OrgID])
				}
				checked++
			}
		}
		if checked == 0 {
			t.Error("no user checked")
		}
	})
	t.Run("tags the sync does not own survive", func(t *testing.T) {
		for _, u := range e.sb.Federal.Users() {
			if strings.HasPrefix(u.Name, "Old ") {
				t.Errorf("user %s was not renamed", u.Email)
			}
		}
		kept := 0
		for _, u := range e.sb.Federal.Users() {
			for _, tag := range u.Tags {
				if tag == "federal_customer" {
					kept++
				}
			}
		}
		if kept == 0 {
			t.Error("the person's user tags were lost")
		}
	})
	t.Run("a second run makes zero writes", func(t *testing.T) {
		before := e.sb.Federal.WriteCalls()
		s := e.run(t, syncer.JobFederalUsers, syncer.Options{})
		if w := e.sb.Federal.WriteCalls() - before; w != 0 || s.Created+s.Updated != 0 {
			t.Errorf("second run: %s, %d writes", s.Headline(), w)
		}
	})
}

// fedEnv is a small federal world: two accounts with orgs, contacts added
// per test.
func fedEnv(t *testing.T) (*env, [2]string) {
	e := newEnv(t, sandbox.Options{Seed: 4, Accounts: 10, FederalAccounts: 4})
	e.sb.Salesforce.RemoveContacts(ids(e.sb.Salesforce.Contacts())...)
	if s := e.run(t, syncer.JobFederalOrgs, syncer.Options{}); !s.OK() {
		t.Fatal(s.Message)
	}
	fed, _ := salesforcetest.GenerateFederal(4, 4, salesforcetest.GenerateOptions{})
	var accts []string
	for _, a := range e.sb.Salesforce.Accounts() {
		if salesforcetest.MatchesFederalQuery(&a) {
			accts = append(accts, a.ID)
		}
	}
	_ = fed
	if len(accts) < 2 {
		t.Fatalf("need two federal accounts, have %v", accts)
	}
	return e, [2]string{accts[0], accts[1]}
}

func ids(cs []salesforcetest.Contact) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

func TestStoredPlan(t *testing.T) {
	ctx := context.Background()
	preview := func(t *testing.T, e *env) *syncer.StoredPlan {
		t.Helper()
		s := e.run(t, syncer.JobFederalUsers, syncer.Options{DryRun: true, SavePlan: true})
		if s.PlanID == "" {
			t.Fatalf("no plan: %s", s.Message)
		}
		p, err := e.db.GetPlan(ctx, s.PlanID)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Run("a stored plan applies exactly its changes, and only once", func(t *testing.T) {
		e, a := fedEnv(t)
		e.sb.Salesforce.AddContacts(salesforcetest.Contact{Name: "Ann Lee", Email: "ann@agency.gov", AccountID: a[0]},
			salesforcetest.Contact{Name: "Bo Chan", Email: "bo@agency.gov", AccountID: a[1]})
		p := preview(t, e)
		if len(p.Changes) != 2 || p.Fingerprint == "" || !p.ExpiresAt.After(p.CreatedAt) {
			t.Fatalf("plan %+v", p)
		}
		// A contact added after the preview is not in the plan: not applied.
		e.sb.Salesforce.AddContacts(salesforcetest.Contact{Name: "Late Comer", Email: "late@agency.gov", AccountID: a[0]})
		s := e.r.ApplyPlan(ctx, p.ID, "test")
		if !s.OK() || s.Created != 2 {
			t.Fatalf("apply: %s (%s) %v", s.Headline(), s.Message, s.Errors)
		}
		emails := map[string]bool{}
		for _, u := range e.sb.Federal.Users() {
			emails[u.Email] = true
		}
		if !emails["ann@agency.gov"] || !emails["bo@agency.gov"] || emails["late@agency.gov"] {
			t.Errorf("users after apply: %v", emails)
		}
		before := e.sb.Federal.WriteCalls()
		again := e.r.ApplyPlan(ctx, p.ID, "test")
		if again.OK() || again.Code != syncer.CodePlanStale || e.sb.Federal.WriteCalls() != before || !strings.Contains(again.Message, "already applied") {
			t.Errorf("second apply: %s %q", again.Headline(), again.Message)
		}
	})
	t.Run("a stored plan lists the skipped records and their reasons as the dry run did; applying it counts them", func(t *testing.T) {
		e, a := fedEnv(t)
		e.sb.Salesforce.AddContacts(salesforcetest.Contact{Name: "Ann Lee", Email: "ann@agency.gov", AccountID: a[0]},
			salesforcetest.Contact{Name: "No Mail", AccountID: a[0]},
			salesforcetest.Contact{Name: "Twice", Email: "same@agency.gov", AccountID: a[0]},
			salesforcetest.Contact{Name: "Twice", Email: "same@agency.gov", AccountID: a[1]})
		dry := e.run(t, syncer.JobFederalUsers, syncer.Options{DryRun: true, SavePlan: true})
		p, err := e.db.GetPlan(ctx, dry.PlanID)
		if err != nil {
			t.Fatal(err)
		}
		if string(mustJSON(t, p.Changes)) != string(mustJSON(t, dry.Changes)) || dry.Skipped != 2 {
			t.Fatalf("plan changes %+v\ndry run changes %+v", p.Changes, dry.Changes)
		}
		s := e.r.ApplyPlan(ctx, p.ID, "test")
		if !s.OK() || s.Created != 1 || s.Skipped != 2 {
			t.Errorf("apply: %s (%s)", s.Headline(), s.Message)
		}
	})
	t.Run("an expired plan is refused", func(t *testing.T) {
		e, a := fedEnv(t)
		e.sb.Salesforce.AddContacts(salesforcetest.Contact{Name: "Ann Lee", Email: "ann@agency.gov", AccountID: a[0]})
		p := preview(t, e)
		writes := e.sb.Federal.WriteCalls()
		now := e.r.Now()
		e.r.Now = func() time.Time { return now.Add(31 * time.Minute) }
		s := e.r.ApplyPlan(ctx, p.ID, "test")
		if s.OK() || s.Code != syncer.CodePlanStale || !strings.Contains(s.Message, "expired") || e.sb.Federal.WriteCalls() != writes {
			t.Errorf("apply of expired plan: %s %q", s.Headline(), s.Message)
		}
	})
	t.Run("a user changed in Zendesk after the preview is skipped and reported; the others apply", func(t *testing.T) {
		e, a := fedEnv(t)
		e.sb.Salesforce.AddContacts(salesforcetest.Contact{Name: "Ann Lee", Email: "ann@agency.gov", AccountID: a[0]},
			salesforcetest.Contact{Name: "Bo Chan", Email: "bo@agency.gov", AccountID: a[1]})
		var orgID int64
		for _, o := range e.sb.Federal.Orgs() {
			if o.ExternalID == a[0] {
				orgID = o.ID
			}
		}
		e.sb.Federal.AddUser(syncer.User{Name: "Ann L.", Email: "ann@agency.gov", OrgID: orgID, Role: "end-user"})
		p := preview(t, e)
		if len(p.Changes) != 2 {
			t.Fatalf("plan %+v", p.Changes)
		}
		// Someone fixes Ann's name by hand in Zendesk before the apply.
		res := e.r.Federal.UpsertUsers(ctx, []syncer.UserWrite{{Email: "ann@agency.gov", Name: "Ann Lee-Smith", OrgID: orgID}})
		if res[0].Err != nil {
			t.Fatal(res[0].Err)
		}
		s := e.r.ApplyPlan(ctx, p.ID, "test")
		if s.Created != 1 || s.Updated != 0 || len(s.Errors) != 1 || s.Errors[0].Record != "ann@agency.gov" || s.Errors[0].Code != syncer.CodePlanStale {
			t.Fatalf("apply: %s errors %+v", s.Headline(), s.Errors)
		}
		for _, u := range e.sb.Federal.Users() {
			if u.Email == "ann@agency.gov" && u.Name != "Ann Lee-Smith" {
				t.Errorf("the hand edit was clobbered: %q", u.Name)
			}
		}
	})
}

func TestPlanCSV(t *testing.T) {
	changes := []syncer.Change{
		{Action: syncer.Update, Kind: "user", Key: "ann@agency.gov", Name: `Lee, Ann "the boss"`, ID: 12,
			Diffs: []syncer.FieldDiff{{Field: "name", Before: "Ann, L.", After: `Ann "A" Lee`}}},
		{Action: syncer.Create, Kind: "user", Key: "bo@agency.gov", Name: "Bo"},
	}
	var buf bytes.Buffer
	if err := syncer.WriteCSV(&buf, changes, nil); err != nil {
		t.Fatal(err)
	}
	raw := buf.String()
	rows, err := csv.NewReader(strings.NewReader(raw)).ReadAll()
	if err != nil {
		t.Fatalf("CSV does not parse back: %v\n%s", err, raw)
	}
	if len(rows) != 3 || strings.Join(rows[0], ",") != strings.Join(syncer.CSVHeader, ",") {
		t.Fatalf("rows %q", rows)
	}
	if rows[1][3] != `Lee, Ann "the boss"` || rows[1][6] != "Ann, L." || rows[1][7] != `Ann "A" Lee` || rows[1][4] != "12" {
		t.Errorf("row %q", rows[1])
	}
	if !strings.Contains(raw, `"Lee, Ann ""the boss"""`) {
		t.Errorf("quotes not escaped:\n%s", raw)
	}
}

// TestDirtyContacts runs federal-users over HTTP on one dirty case at a
// time and checks what happens to it.
func TestDirtyContacts(t *testing.T) {
	type contact = salesforcetest.Contact
	const orphanAccount = "001FtX87Q0000ZZZZZ"
	tests := []struct {
		name     string
		contacts func(a [2]string) []contact
		key      string
		action   syncer.Action
		reason   string
		users    int // federal users after the run
	}{
		{"a contact with no e-mail is dropped", func(a [2]string) []contact {
			return []contact{{Name: "No Mail", AccountID: a[0]}}
		}, "No Mail", syncer.Skip, syncer.ReasonNoEmail, 0},
		{"a contact with no name is dropped", func(a [2]string) []contact {
			return []contact{{Email: "anon@agency.gov", AccountID: a[0]}}
		}, "anon@agency.gov", syncer.Skip, syncer.ReasonNoName, 0},
		{"a contact with a blank account is dropped", func(a [2]string) []contact {
			return []contact{{Name: "Lost", Email: "lost@agency.gov", AccountID: a[0], BlankAccountID: true}}
		}, "lost@agency.gov", syncer.Skip, syncer.ReasonNoAccount, 0},
		{"an inactive contact is not selected", func(a [2]string) []contact {
			return []contact{{Name: "Gone", Email: "gone@agency.gov", AccountID: a[0], Inactive: true}}
		}, "", "", "", 0},
		{"mixed case and spaces make one user with a clean e-mail", func(a [2]string) []contact {
			return []contact{{Name: "Mixed Case", Email: "  Mixed.Case@Agency.GOV ", AccountID: a[0]}}
		}, "mixed.case@agency.gov", syncer.Create, "", 1},
		{"the same e-mail twice on one account is one user", func(a [2]string) []contact {
			return []contact{{Name: "Twice", Email: "twice@agency.gov", AccountID: a[0]}, {Name: "Twice Again", Email: "TWICE@agency.gov", AccountID: a[0]}}
		}, "twice@agency.gov", syncer.Create, "", 1},
		{"an e-mail on two accounts is skipped and names both", func(a [2]string) []contact {
			return []contact{{Name: "Two", Email: "two@agency.gov", AccountID: a[0]}, {Name: "Two", Email: "two@agency.gov", AccountID: a[1]}}
		}, "two@agency.gov", syncer.Skip, syncer.ReasonAmbiguous, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, a := fedEnv(t)
			baseline := map[string]bool{}
			for _, u := range e.sb.Federal.Users() {
				baseline[u.Email] = true
			}
			e.sb.Salesforce.AddContacts(tt.contacts(a)...)
			s := e.run(t, syncer.JobFederalUsers, syncer.Options{})
			if !s.OK() {
				t.Fatalf("run: %s", s.Message)
			}
			if tt.key == "" {
				if s.Fetched != 0 || len(e.sb.Federal.Users()) != len(baseline) {
					t.Errorf("selected %d contacts, %d users", s.Fetched, len(e.sb.Federal.Users()))
				}
				return
			}
			dry := e.run(t, syncer.JobFederalUsers, syncer.Options{DryRun: true})
			var got []syncer.Change
			for _, c := range dry.Changes {
				if c.Key == tt.key {
					got = append(got, c)
				}
			}
			if tt.action == syncer.Skip {
				if len(got) != 1 || got[0].Action != syncer.Skip || !strings.Contains(got[0].Reason, tt.reason) {
					t.Errorf("changes for %s: %+v", tt.key, got)
				}
				if tt.reason == syncer.ReasonAmbiguous && !(strings.Contains(got[0].Reason, a[0]) && strings.Contains(got[0].Reason, a[1])) {
					t.Errorf("reason does not name both accounts: %s", got[0].Reason)
				}
			}
			var users []syncer.User
			for _, u := range e.sb.Federal.Users() {
				if !baseline[u.Email] {
					users = append(users, u)
				}
			}
			if len(users) != tt.users {
				t.Fatalf("%d users, want %d: %+v", len(users), tt.users, users)
			}
			if tt.users == 1 && users[0].Email != tt.key {
				t.Errorf("user e-mail %q, want %q", users[0].Email, tt.key)
			}
		})
	}
	t.Run("a contact whose account has no federal org yet is skipped", func(t *testing.T) {
		e, a := fedEnv(t)
		e.sb.Salesforce.AddContacts(contact{Name: "Early", Email: "early@agency.gov", AccountID: a[0]})
		for _, o := range e.sb.Federal.Orgs() {
			if o.ExternalID == a[0] {
				e.r.Federal.DeleteOrgs(context.Background(), []int64{o.ID})
			}
		}
		s := e.run(t, syncer.JobFederalUsers, syncer.Options{DryRun: true})
		if len(s.Changes) != 1 || s.Changes[0].Action != syncer.Skip || !strings.Contains(s.Changes[0].Reason, syncer.ReasonNoOrg) {
			t.Errorf("changes %+v", s.Changes)
		}
		_ = orphanAccount
	})
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
