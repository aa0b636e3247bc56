package syncer

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Rules are the tunable business rules and guards of the sync jobs. Their
// defaults are the configuration's (GREATLY_EXPIRED_YEARS, DELETE_LIMIT,
// SHRINK_RATIO, APPROVAL_THRESHOLD); every value means what it says, 0
// included.
type Rules struct {
	// GreatlyExpiredYears is how many calendar years after its expiration
	// date an account is "greatly expired" and its Global org deleted.
	GreatlyExpiredYears int
	// MaxDeletes caps the deletions of one run: a plan with more deletes
	// none of them, and 0 deletes none.
	MaxDeletes int
	// ShrinkRatio: a full run whose Salesforce result is below this share
	// of the last successful run's deletes nothing (0: never).
	ShrinkRatio float64
	// ApprovalThreshold: a global-orgs run that would delete more orgs than
	// this holds the deletions for approval (0: every deletion is held).
	ApprovalThreshold int
	// DeleteGrace is how long a greatly expired Global org carries
	// TagPendingDeletion before a full run deletes it (DELETE_GRACE); 0
	// deletes it at once, untagged.
	DeleteGrace time.Duration
}

// Plan is the output of planning: the changes to make and the count of
// records already in sync. Warnings are per-record problems that did not
// stop the record from syncing.
type Plan struct {
	Changes   []Change
	Unchanged int
	Warnings  []RecordError
	// Pending are the greatly expired Global orgs waiting out the grace
	// period after this plan: tagged TagPendingDeletion already, or by
	// this plan (New).
	Pending []PendingDeletion
}

// PendingDeletion is a greatly expired Global org in its grace period:
// tagged TagPendingDeletion since Since, deleted by the first full run
// from DeleteAfter on (README, "Grace period before deletion").
type PendingDeletion struct {
	Account     string    `json:"account"`
	OrgID       int64     `json:"zendesk_id,omitempty"`
	Name        string    `json:"name,omitempty"`
	Since       time.Time `json:"since"`
	DeleteAfter time.Time `json:"delete_after"`
	// New is set when this run tags the org (it was not pending before).
	New bool `json:"new,omitempty"`
}

// GraceState is what the planner knows of the grace period besides the
// orgs' tags: since when each org of an account has carried
// TagPendingDeletion (from the store), and whether the run covers every
// account (only a full run deletes a pending org).
type GraceState struct {
	Since map[string]time.Time
	Full  bool
}

// Count returns how many changes have action a (the clearing of
// sold_to_pending is part of creating an org, not counted).
func (p *Plan) Count(a Action) int {
	n := 0
	for _, c := range p.Changes {
		if c.Action == a && counted(c) {
			n++
		}
	}
	return n
}

func (p *Plan) warn(record string, probs []FieldProblem) {
	for _, pr := range probs {
		p.Warnings = append(p.Warnings, RecordError{Code: CodeBadResponse, Name: "BadFieldValue", Record: record,
			Message: fmt.Sprintf("%s = %q: %s", pr.Field, pr.Value, pr.Message)})
	}
}

// PlanOrgs compares the accounts of a scope with the Zendesk orgs and returns
// the changes. It is pure: no I/O, same inputs, same plan. Global plans
// delete the orgs of greatly expired accounts and create sold-to users for
// new orgs; Federal plans do neither. Orgs without an 18-character external
// ID, and orgs whose account is not in the result, are never touched.
func PlanOrgs(scope Scope, accounts []Account, orgs []Org, now time.Time, rules Rules) Plan {
	return PlanOrgsGrace(scope, accounts, orgs, now, rules, GraceState{Full: true})
}

// PlanOrgsGrace is PlanOrgs knowing since when the pending orgs have been
// pending (an org tagged without a known date counts from now).
func PlanOrgsGrace(scope Scope, accounts []Account, orgs []Org, now time.Time, rules Rules, grace GraceState) Plan {
	pl := newOrgPlanner(scope, accounts, now, rules)
	pl.grace = grace
	pl.Add(orgs)
	return pl.Plan()
}

// orgPlanner is PlanOrgs taking the orgs as they are read, so that a run
// never holds them all: each org is compared with its account when it
// arrives and only the changes are kept. At 500,000 accounts that is the
// difference between fitting a 1 GiB container and not. The plan does not
// depend on the order the orgs arrive in. Not safe for concurrent use.
type orgPlanner struct {
	scope    Scope
	accounts []Account
	now      time.Time
	rules    Rules
	order    []int32          // account indexes in ID order, each ID once
	byID     map[string]int32 // account ID → account index
	first    []int64          // per account: the ID of its first org, 0 for none
	more     map[int32][]int64
	changes  map[int32][]Change       // per account whose org needs changes: them
	problems map[int32][]FieldProblem // per matched account with problems: them
	grace    GraceState
	pending  map[int32]PendingDeletion // per account whose org is in its grace period
}

// newOrgPlanner starts a plan of the accounts of scope.
func newOrgPlanner(scope Scope, accounts []Account, now time.Time, rules Rules) *orgPlanner {
	pl := &orgPlanner{scope: scope, accounts: accounts, now: now, rules: rules, byID: make(map[string]int32, len(accounts)),
		first: make([]int64, len(accounts)), more: map[int32][]int64{}, changes: map[int32][]Change{},
		problems: map[int32][]FieldProblem{}, pending: map[int32]PendingDeletion{}, grace: GraceState{Full: true}}
	pl.order = make([]int32, len(accounts))
	for i := range pl.order {
		pl.order[i] = int32(i)
	}
	slices.SortStableFunc(pl.order, func(i, j int32) int { return strings.Compare(accounts[i].ID, accounts[j].ID) })
	pl.order = slices.CompactFunc(pl.order, func(i, j int32) bool { return accounts[i].ID == accounts[j].ID })
	for _, i := range pl.order {
		if IsAccountID(accounts[i].ID) {
			pl.byID[accounts[i].ID] = i
		}
	}
	return pl
}

// Add compares orgs with their accounts. Orgs whose external ID is no
// account's are ignored; an org added twice counts once.
func (pl *orgPlanner) Add(orgs []Org) {
	for _, o := range orgs {
		i, ok := pl.byID[o.ExternalID]
		if !ok {
			continue
		}
		switch {
		case pl.first[i] == 0:
			pl.first[i] = o.ID
			c, probs := pl.compare(i, o)
			if len(c) > 0 {
				pl.changes[i] = c
			}
			if len(probs) > 0 {
				pl.problems[i] = probs
			}
		case pl.first[i] != o.ID && !slices.Contains(pl.more[i], o.ID):
			pl.more[i] = append(pl.more[i], o.ID)
			delete(pl.changes, i) // several orgs: skipped, see Plan
			delete(pl.pending, i)
		}
	}
}

// Matched reports whether an org of the account ID has been added.
func (pl *orgPlanner) Matched(id string) bool {
	i, ok := pl.byID[id]
	return ok && pl.first[i] != 0
}

// compare returns the changes of the org of account i (nil for none) and
// the problems of the account's values.
func (pl *orgPlanner) compare(i int32, o Org) ([]Change, []FieldProblem) {
	a := pl.accounts[i]
	d := Desire(pl.scope, a, pl.now, pl.rules)
	want := d
	if d.GreatlyExpired && pl.scope == Global {
		del, p := pl.expired(a, o, d)
		if p != nil {
			pl.pending[i] = *p
		}
		if del != nil {
			return []Change{*del}, d.Problems
		}
		if p != nil {
			want.Tags = sortedUnique(append(slices.Clone(d.Tags), TagPendingDeletion))
		}
	}
	owned := want.Tags // what the org's owned tags are once its sold-to users exist
	pending := pl.scope == Global && slices.Contains(o.Tags, TagSoldToPending)
	if pending {
		// Keep the marker through this update; it is cleared after the
		// users, below.
		want.Tags = sortedUnique(append(slices.Clone(want.Tags), TagSoldToPending))
	}
	var out []Change
	if c, changed := diffOrg(pl.scope, o, want); changed {
		out = append(out, c)
	}
	if pending {
		// A run was cut short after creating this org: create its sold-to
		// users now (existing ones are left alone).
		out = append(out, soldToUsers(a, o.ID)...)
		out = append(out, settleSoldTo(a.ID, o.Name, o.ID, MergeTags(o.Tags, owned)))
	}
	if p, ok := pl.pending[i]; ok && len(out) > 0 && out[0].Action == Update && p.New {
		out[0].Reason = fmt.Sprintf("greatly expired: expired %s; pending deletion, to be deleted on or after %s",
			d.Expiration, p.DeleteAfter.UTC().Format(time.DateOnly))
	}
	return out, d.Problems
}

// expired applies the grace period to the org of a greatly expired Global
// account (README, "Grace period before deletion"). It returns the
// deletion when the org is to be deleted now: at once without a grace
// period, else by a full run once the org has carried TagPendingDeletion
// for Rules.DeleteGrace. It returns the org's grace period when the org
// is (or is now to be) pending, its deletion due or not; none when the org
// is tagged do_not_delete, which keeps it (and loses the pending tag).
func (pl *orgPlanner) expired(a Account, o Org, d DesiredOrg) (*Change, *PendingDeletion) {
	del := &Change{Action: Delete, Kind: "org", Key: a.ID, Name: o.Name, ID: o.ID, Reason: "greatly expired: expired " + d.Expiration, Before: mustJSON(o)}
	if pl.rules.DeleteGrace <= 0 {
		return del, nil
	}
	if slices.Contains(o.Tags, TagDoNotDelete) {
		return nil, nil
	}
	tagged := slices.Contains(o.Tags, TagPendingDeletion)
	since, known := pl.grace.Since[a.ID]
	if !tagged || !known {
		since = pl.now
	}
	p := &PendingDeletion{Account: a.ID, OrgID: o.ID, Name: cmp.Or(d.Name, o.Name), Since: since, DeleteAfter: since.Add(pl.rules.DeleteGrace), New: !tagged}
	if tagged && known && pl.grace.Full && !pl.now.Before(p.DeleteAfter) {
		del.Reason += fmt.Sprintf("; pending deletion since %s, grace period over", since.UTC().Format(time.DateOnly))
		return del, p
	}
	return nil, p
}

// Plan returns the plan: the changes of the orgs added, and the orgs to
// create for the accounts that have none, in account ID order.
func (pl *orgPlanner) Plan() Plan {
	var p Plan
	for _, i := range pl.order {
		a := pl.accounts[i]
		if !IsAccountID(a.ID) {
			p.Changes = append(p.Changes, Change{Action: Skip, Kind: "org", Key: a.ID, Name: a.Name, Reason: "Account_ID_18__c is not an 18-character ID"})
			continue
		}
		if pl.first[i] != 0 { // compared when its org arrived
			p.warn(a.ID, pl.problems[i])
			if len(pl.more[i]) > 0 {
				ids := append([]int64{pl.first[i]}, pl.more[i]...)
				slices.Sort(ids)
				names := make([]string, len(ids))
				for k, id := range ids {
					names[k] = fmt.Sprint(id)
				}
				p.Changes = append(p.Changes, Change{Action: Skip, Kind: "org", Key: a.ID, Name: strings.TrimSpace(a.Name),
					Reason: "several Zendesk orgs have this external_id (" + strings.Join(names, ", ") + "); resolve by hand"})
				continue
			}
			if len(pl.changes[i]) == 0 {
				p.Unchanged++
			}
			p.Changes = append(p.Changes, pl.changes[i]...)
			if pd, ok := pl.pending[i]; ok {
				p.Pending = append(p.Pending, pd)
			}
			continue
		}
		d := Desire(pl.scope, a, pl.now, pl.rules)
		p.warn(a.ID, d.Problems)
		switch {
		case d.GreatlyExpired && pl.scope == Global:
			// Nothing to create: it would be deleted as greatly expired.
		case d.Name == "":
			p.Changes = append(p.Changes, Change{Action: Skip, Kind: "org", Key: a.ID, Reason: "account has no name"})
		default:
			fields := map[string]any{}
			for k, v := range d.Fields {
				if v != nil {
					fields[k] = v
				}
			}
			tags := d.Tags
			var users []Change
			if pl.scope == Global {
				users = soldToUsers(a, 0)
			}
			if len(users) > 0 {
				tags = sortedUnique(append(slices.Clone(d.Tags), TagSoldToPending))
			}
			p.Changes = append(p.Changes, Change{Action: Create, Kind: "org", Key: a.ID, Name: d.Name,
				Org: &OrgWrite{ExternalID: a.ID, Name: d.Name, Tags: tags, Fields: fields}})
			if len(users) > 0 {
				p.Changes = append(p.Changes, users...)
				p.Changes = append(p.Changes, settleSoldTo(a.ID, d.Name, 0, d.Tags))
			}
		}
	}
	return p
}

// diffOrg compares an org with its desired state and returns the update
// carrying only what changed.
func diffOrg(scope Scope, o Org, d DesiredOrg) (Change, bool) {
	w := &OrgWrite{ID: o.ID, ExternalID: o.ExternalID}
	var diffs []FieldDiff
	if d.Name != "" && d.Name != o.Name {
		w.Name = d.Name
		diffs = append(diffs, FieldDiff{Field: "name", Before: o.Name, After: d.Name})
	}
	for _, m := range MappedFields(scope) {
		want, have := d.Fields[m.Zendesk], o.Fields.Get(m.Zendesk)
		if _, planned := d.Fields[m.Zendesk]; !planned {
			continue // value unusable: left alone
		}
		if a, b := canon(m.Type, want), canon(m.Type, have); a != b {
			if w.Fields == nil {
				w.Fields = map[string]any{}
			}
			w.Fields[m.Zendesk] = want
			diffs = append(diffs, FieldDiff{Field: m.Zendesk, Before: b, After: a})
		}
	}
	tags := MergeTags(o.Tags, d.Tags)
	if !slices.Equal(tags, sortedUnique(o.Tags)) {
		w.Tags = append([]string{}, tags...) // never nil: an empty list clears the tags
		diffs = append(diffs, FieldDiff{Field: "tags", Before: strings.Join(ownedOnly(o.Tags), " "), After: strings.Join(d.Tags, " ")})
	}
	if len(diffs) == 0 {
		return Change{}, false
	}
	return Change{Action: Update, Kind: "org", Key: o.ExternalID, Name: o.Name, ID: o.ID, Diffs: diffs, Org: w, Before: mustJSON(o)}, true
}

// MergeTags returns the tags a record should have: every tag it has that
// the sync does not own, plus the owned tags wanted; sorted, no duplicates.
func MergeTags(have, owned []string) []string {
	out := slices.Clone(owned)
	for _, t := range have {
		if !OwnedTag(t) {
			out = append(out, t)
		}
	}
	return sortedUnique(out)
}

func ownedOnly(tags []string) []string {
	var out []string
	for _, t := range sortedUnique(tags) {
		if OwnedTag(t) {
			out = append(out, t)
		}
	}
	return out
}

func sortedUnique(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}

// settleSoldTo is the update that clears sold_to_pending once the sold-to
// users of the org of account are created: tags is the org's full tag list
// without the marker; orgID is 0 for an org created in the same run.
func settleSoldTo(account, name string, orgID int64, tags []string) Change {
	return Change{Action: Update, Kind: "org", Key: account, Name: name, ID: orgID, AfterUsers: true,
		Reason: "sold-to users created: clear " + TagSoldToPending,
		Org:    &OrgWrite{ID: orgID, ExternalID: account, Tags: append([]string{}, tags...)}}
}

// soldToUsers returns the user creations for the distinct sold-to e-mails
// of an account whose org is new (orgID 0: filled in when it is created)
// or still marked sold_to_pending.
func soldToUsers(a Account, orgID int64) []Change {
	var out []Change
	seen := map[string]bool{}
	for _, s := range a.SoldTo {
		email := NormalizeEmail(s.Email)
		if !ValidEmail(email) || seen[email] {
			continue
		}
		seen[email] = true
		name := strings.TrimSpace(s.Name)
		if name == "" {
			name = email
		}
		out = append(out, Change{Action: Create, Kind: "user", Key: email, Name: name, Parent: a.ID,
			User: &UserWrite{Email: email, Name: name, OrgID: orgID}})
	}
	return out
}

// NormalizeEmail is how e-mails are compared: trimmed, lower case.
func NormalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// ValidEmail reports whether a normalised e-mail is plausible enough to send.
func ValidEmail(s string) bool {
	at := strings.IndexByte(s, '@')
	return at > 0 && at < len(s)-1 && !strings.ContainsAny(s, " \t\r\n,;<>") && strings.Count(s, "@") == 1
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only plain domain values are marshalled
	}
	return b
}
