package syncer

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Condition is one condition of a documented query's WHERE clause, as it
// holds for one account: the SOQL text, whether it holds, and the
// account's values it reads.
type Condition struct {
	Name   string `json:"name"`
	SOQL   string `json:"soql"`
	Holds  bool   `json:"holds"`
	Values string `json:"values"`
}

// QueryVerdict says which conditions of one documented account query an
// account meets, and in one sentence which of them decides whether the
// query selects it.
type QueryVerdict struct {
	Selected   bool        `json:"selected"`
	Decides    string      `json:"decides"`
	Conditions []Condition `json:"conditions"`
}

// AccountConditions are an account's values for the conditions of both
// documented account queries, read by ID whatever the queries select.
type AccountConditions struct {
	Exists  bool         `json:"exists"`
	Name    string       `json:"name,omitempty"`
	Global  QueryVerdict `json:"global"`
	Federal QueryVerdict `json:"federal"`
}

// QueryConditions reads, for explain, why the documented account queries
// select an account or not: one read by ID of the fields their WHERE
// clauses test, evaluated against each condition. Implemented by
// syncer/salesforce, which owns the queries' text.
type QueryConditions interface {
	AccountConditions(ctx context.Context, accountID string) (AccountConditions, error)
}

// Explanation is what explain answers about one Salesforce account
// (README, "Explain"), for each job asked about.
type Explanation struct {
	Account string           `json:"account"`
	Name    string           `json:"name,omitempty"`
	At      time.Time        `json:"at"`
	Jobs    []JobExplanation `json:"jobs"`
	// Recent are the account's last audited changes, oldest first.
	Recent []HistoryEntry `json:"recent_changes"`
	// Code and Message say why the explanation could not be made, when
	// it could not (a refused login, say).
	Code    Code   `json:"code"`
	Message string `json:"message,omitempty"`
}

// JobExplanation is explain's answer for one org job: whether the job's
// query selects the account and why (read live from Salesforce with the
// documented query and the account's ID), the value each synced field
// should have and where it comes from, the org as it is in Zendesk now,
// and the exact changes the next run would make (after the guards).
type JobExplanation struct {
	Job     Job          `json:"job"`
	InQuery bool         `json:"in_query"`
	Query   QueryVerdict `json:"query"`
	// Values are the fields the account's org should have; Notes say
	// what else decides its fate (expiry, the grace period, the guards,
	// values that could not be used).
	Values []FieldExplanation `json:"values,omitempty"`
	Notes  []string           `json:"notes,omitempty"`
	// Orgs are the account's orgs in Zendesk now (more than one is a
	// conflict the sync skips).
	Orgs []Org `json:"zendesk_orgs"`
	// Next is what the next run would do; InSync when nothing.
	Next   []Change `json:"next_run"`
	InSync bool     `json:"in_sync"`
	Error  string   `json:"error,omitempty"`
}

// FieldExplanation is the value one org field (or the tags) should have,
// and where it comes from.
type FieldExplanation struct {
	Field string `json:"field"`
	Value string `json:"value"`
	From  string `json:"from"`
}

// Explain explains one account for each of the org jobs asked (README,
// "Explain"). It reads as a single-account run does — the documented
// query with the account's ID, the org by its external ID — plus one read
// of the fields the queries filter on, and plans with the same planner
// and guards, as the next full run would: it writes nothing.
func (r *Runner) Explain(ctx context.Context, accountID string, jobs []Job) *Explanation {
	ex := &Explanation{At: r.now(), Recent: []HistoryEntry{}}
	id, err := NormalizeID(accountID)
	if err != nil {
		ex.Account, ex.Code, ex.Message = accountID, ErrorCode(err), ErrorMessage(err)
		return ex
	}
	ex.Account = id
	conds, err := r.Salesforce.AccountConditions(ctx, id)
	if err != nil {
		ex.Code, ex.Message = ErrorCode(err), ErrorMessage(WithOp(err, "read the account's query conditions", id))
		return ex
	}
	ex.Name = conds.Name
	for _, job := range jobs {
		je := r.explainJob(ctx, job, id, conds)
		ex.Jobs = append(ex.Jobs, je)
	}
	if !conds.Exists {
		ex.Message = "no Salesforce account has this ID"
	}
	return ex
}

// explainJob explains the account for one org job.
func (r *Runner) explainJob(ctx context.Context, job Job, id string, conds AccountConditions) JobExplanation {
	zd, scope := r.target(job)
	je := JobExplanation{Job: job, Query: conds.Global, Orgs: []Org{}, Next: []Change{}}
	if scope == Federal {
		je.Query = conds.Federal
	}
	if zd == nil {
		je.Error = "no Zendesk instance is configured for " + string(job)
		return je
	}
	in, err := r.fetch(ctx, job, id)
	if err != nil {
		je.Error = ErrorMessage(WithOp(err, "fetch", id))
		return je
	}
	je.InQuery = len(in.accounts) > 0
	je.Orgs = append(je.Orgs, relevantOrgs([]string{id}, in.orgs)...)
	if je.InQuery != je.Query.Selected && conds.Exists {
		je.Notes = append(je.Notes, fmt.Sprintf("Salesforce's answer to the query (%s) and the conditions read by ID (%s) disagree: a field the integration user cannot read (field-level security) makes SOQL see it empty",
			selectedWord(je.InQuery), selectedWord(je.Query.Selected)))
	}
	if !je.InQuery {
		if len(je.Orgs) > 0 {
			je.Notes = append(je.Notes, "the job leaves this account's org alone: orgs of accounts outside the query are never changed or deleted")
		}
		je.InSync = true
		return je
	}
	in.grace.Full = true // what the next full run would do
	plan := r.plan(job, in)
	facts := r.facts(ctx, job, plan, in.count(), false, false)
	v := guard(plan, facts, r.Rules)
	je.Next = v.Plan.Changes
	je.InSync = len(je.Next) == 0
	a := in.accounts[0]
	je.Values = r.explainValues(scope, a)
	je.Notes = append(je.Notes, r.explainFate(ctx, zd, scope, a, je.Orgs, plan, v)...)
	for _, w := range plan.Warnings {
		je.Notes = append(je.Notes, "value not used: "+w.Message)
	}
	return je
}

func selectedWord(b bool) string {
	if b {
		return "selected"
	}
	return "not selected"
}

// explainValues lists the value each synced field of the account's org
// should have and where it comes from.
func (r *Runner) explainValues(scope Scope, a Account) []FieldExplanation {
	d := Desire(scope, a, r.now(), r.Rules)
	subs := subscriptionsOf(a)
	out := []FieldExplanation{{Field: "name", Value: d.Name, From: "Name"}, {Field: "external_id", Value: a.ID, From: "Account_ID_18__c"}}
	for _, m := range MappedFields(scope) {
		v, planned := d.Fields[m.Zendesk]
		value := canon(m.Type, v)
		from := m.Salesforce
		switch {
		case !planned:
			value, from = "(left as it is)", m.Salesforce+" holds a value that cannot be used"
		case m.Zendesk == FieldSupportLevel:
			from = levelSource(a, subs)
		case m.Zendesk == FieldExpirationDate:
			from = expirationSource(a, subs)
		}
		out = append(out, FieldExplanation{Field: m.Zendesk, Value: value, From: from})
	}
	out = append(out, FieldExplanation{Field: "tags (owned)", Value: strings.Join(d.Tags, " "), From: tagSources(scope, a, d, r.Rules)})
	return out
}

// levelSource says where the support level comes from.
func levelSource(a Account, s subscriptions) string {
	if s.levelFrom < 0 {
		return "no active subscription names a known tier"
	}
	sub := a.Subscriptions[s.levelFrom]
	src := cmp.Or(sub.Source, "an active subscription")
	end := "no end date"
	if sub.EndDate != "" {
		end = "ending " + sub.EndDate
	}
	return fmt.Sprintf("the highest tier among the active subscriptions: %s (tier %q, %s)", src, sub.Tier, end)
}

// expirationSource says where the expiration date comes from.
func expirationSource(a Account, s subscriptions) string {
	switch {
	case s.openFrom >= 0:
		return fmt.Sprintf("the latest end date of the active subscriptions; %s has no end date, so the account never expires",
			cmp.Or(a.Subscriptions[s.openFrom].Source, "an active subscription"))
	case s.expirationFrom >= 0:
		return fmt.Sprintf("the latest end date of the active subscriptions: %s", cmp.Or(a.Subscriptions[s.expirationFrom].Source, "an active subscription"))
	case s.expiration != "":
		return "Next_Renewal_Date__c (no active subscription has an end date)"
	}
	return "no active subscription and no Next_Renewal_Date__c"
}

// tagSources says why the org gets its owned tags.
func tagSources(scope Scope, a Account, d DesiredOrg, rules Rules) string {
	var why []string
	if len(a.Subscriptions) > 0 {
		why = append(why, "sub_… and support_level_… from the active subscriptions' tiers")
	}
	if slices.Contains(d.Tags, "expired") {
		why = append(why, "expired: the expiration date "+d.Expiration+" is past")
	}
	if d.GreatlyExpired {
		why = append(why, fmt.Sprintf("greatly_expired: expired %s, %d or more years ago", d.Expiration, rules.GreatlyExpiredYears))
	}
	if scope == Global && a.Type == "Partner" {
		why = append(why, "partner_… from the partner status, type and track")
	}
	if len(why) == 0 {
		return "none of the owned tags applies"
	}
	return strings.Join(why, "; ")
}

// explainFate says what decides whether the account's org is deleted:
// greatly expired since when, its grace period, and the guards that keep
// it.
func (r *Runner) explainFate(ctx context.Context, zd Zendesk, scope Scope, a Account, orgs []Org, p Plan, v Verdict) []string {
	d := Desire(scope, a, r.now(), r.Rules)
	if !d.GreatlyExpired {
		if d.Expiration != "" && slices.Contains(d.Tags, "expired") {
			return []string{"expired on " + d.Expiration + "; not greatly expired (that is " +
				fmt.Sprint(r.Rules.GreatlyExpiredYears) + " years after)"}
		}
		return nil
	}
	exp, _ := time.Parse(time.DateOnly, d.Expiration)
	notes := []string{fmt.Sprintf("greatly expired since %s (expired %s, %d years before)",
		exp.AddDate(r.Rules.GreatlyExpiredYears, 0, 0).Format(time.DateOnly), d.Expiration, r.Rules.GreatlyExpiredYears)}
	if scope != Global {
		return append(notes, "federal-orgs never deletes")
	}
	for _, pd := range p.Pending {
		if pd.New {
			notes = append(notes, "the next run tags the org "+TagPendingDeletion+": "+PendingLine(pd))
		} else {
			notes = append(notes, fmt.Sprintf("pending deletion since %s: %s", pd.Since.UTC().Format(time.DateOnly), PendingLine(pd)))
		}
	}
	for _, o := range orgs {
		if slices.Contains(o.Tags, TagDoNotDelete) {
			notes = append(notes, fmt.Sprintf("kept: org %d is tagged %s", o.ID, TagDoNotDelete))
		}
		open, err := zd.OrgHasOpenTickets(ctx, o.ID)
		switch {
		case err != nil:
			notes = append(notes, fmt.Sprintf("the tickets of org %d could not be checked: %s", o.ID, ErrorMessage(err)))
		case open:
			notes = append(notes, fmt.Sprintf("kept while org %d has tickets that are not closed", o.ID))
		}
	}
	for _, c := range v.Plan.Changes {
		if c.Kind == "org" && c.Action == Delete {
			notes = append(notes, "the next full run deletes the org")
		}
	}
	if r.Rules.MaxDeletes == 0 {
		notes = append(notes, "kept: deletions are turned off (DELETE_LIMIT=0)")
	}
	return notes
}
