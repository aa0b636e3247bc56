// Package sandbox starts the fake Salesforce and the two fake Zendesk
// instances on loopback and fills them with seeded, realistic data: what
// `zdsync demo`, the end-to-end tests and the benchmarks run against.
//
// Salesforce gets generated global and federal accounts and federal
// contacts (with every dirty case). Zendesk Global gets orgs that are partly
// in sync with them, partly stale, partly missing, plus orgs that are not
// the sync's, tags people added by hand, and protected greatly expired orgs;
// Zendesk US Federal gets federal orgs and users, partly in sync.
package sandbox

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"time"

	"github.com/zdsync/zdsync/syncer"
	"github.com/zdsync/zdsync/syncer/salesforce"
	"github.com/zdsync/zdsync/syncer/salesforce/salesforcetest"
	"github.com/zdsync/zdsync/syncer/zendesk/zendesktest"
)

// Options size and shape the sandbox. Zero values take the defaults.
type Options struct {
	Seed     int64
	Accounts int // generated global accounts (default 300)
	// GlobalAccounts, when set, replaces Accounts: as many accounts are
	// generated as it takes for the global query to select exactly this
	// many (about three generated accounts in four are selected).
	GlobalAccounts  int
	FederalAccounts int       // generated federal accounts (default 40)
	Now             time.Time // the day the data is relative to (default: today)
	// Shares of the Global orgs: missing (to be created) and stale (one
	// owned field or tag off); the rest are in sync.
	Missing, Stale float64
	// ExactShares picks the missing and stale orgs by position instead of
	// at random, so that exactly those shares of the orgs (rounded down)
	// are missing and stale: what benchmarks need to compare runs.
	ExactShares bool
	// HandTags is the share of orgs with a tag a person added.
	HandTags float64
	// Foreign is the number of orgs that are not the sync's (no
	// Salesforce external ID); negative means none.
	Foreign int
	// NoDeletions renews the greatly expired global accounts (their
	// subscriptions and renewal date move a year ahead) before they are
	// loaded, so that a run has no org to delete and every account an org.
	NoDeletions bool
	// Latency is how long every fake waits before answering each request,
	// as a remote API would (0: none).
	Latency time.Duration
	// ZendeskRateLimit is the fake Zendesk's requests a minute (0: none).
	ZendeskRateLimit int
	// SalesforcePageSize is the fake Salesforce's query page (default 2000).
	SalesforcePageSize int
	// JobDelay is how long the fake Zendesk takes to run a bulk job.
	JobDelay time.Duration
	// CaseIDField is the ID of the ticket custom field holding the case ID.
	CaseIDField int64
	// Clock, when set, is the fake Salesforce's clock of SystemModstamp
	// (a simulated clock). Otherwise the seeded records are stamped
	// seededAgo before the sandbox starts, as data entered earlier is,
	// and later changes with the wall clock.
	Clock func() time.Time
}

// seededAgo is how long before the start of a sandbox without a Clock its
// seeded Salesforce records were last changed.
const seededAgo = 24 * time.Hour

func (o *Options) defaults() {
	if o.Accounts == 0 {
		o.Accounts = 300
	}
	if o.FederalAccounts == 0 {
		o.FederalAccounts = 40
	}
	if o.Now.IsZero() {
		o.Now = time.Now().UTC()
	}
	if o.Missing == 0 && o.Stale == 0 {
		o.Missing, o.Stale = 0.1, 0.2
	}
	if o.HandTags == 0 {
		o.HandTags = 0.1
	}
	switch {
	case o.Foreign == 0:
		o.Foreign = max(2, o.Accounts/50)
	case o.Foreign < 0:
		o.Foreign = 0
	}
	if o.CaseIDField == 0 {
		o.CaseIDField = zendesktest.DefaultCaseIDField
	}
}

// Sandbox is a running set of fakes.
type Sandbox struct {
	Options    Options
	Salesforce *salesforcetest.Server
	Global     *zendesktest.Server
	Federal    *zendesktest.Server
	// Protected lists the greatly expired orgs that guards must keep:
	// tagged do_not_delete, or with a ticket that is not closed.
	Protected []int64
}

// Start starts the fakes and seeds them.
func Start(ctx context.Context, opts Options) (*Sandbox, error) {
	opts.defaults()
	gopts := salesforcetest.GenerateOptions{Now: opts.Now}
	accounts := salesforcetest.Generate(opts.Seed, opts.Accounts, gopts)
	if opts.GlobalAccounts > 0 {
		accounts = generateSelected(opts.Seed, opts.GlobalAccounts, gopts)
		opts.Accounts = len(accounts)
	}
	if opts.NoDeletions {
		for i := range accounts {
			renewIfGreatlyExpired(&accounts[i], opts.Now)
		}
	}
	fedAccounts, contacts := salesforcetest.GenerateFederal(opts.Seed, opts.FederalAccounts, gopts)
	sfOpts := []salesforcetest.Option{salesforcetest.WithAccounts(append(accounts, fedAccounts...)...), salesforcetest.WithContacts(contacts...)}
	if opts.SalesforcePageSize > 0 {
		sfOpts = append(sfOpts, salesforcetest.WithPageSize(opts.SalesforcePageSize))
	}
	if opts.Latency > 0 {
		sfOpts = append(sfOpts, salesforcetest.WithResponseDelay(opts.Latency))
	}
	clock := opts.Clock
	var seeded atomic.Bool
	if clock == nil {
		clock = func() time.Time {
			if seeded.Load() {
				return time.Now()
			}
			return time.Now().Add(-seededAgo)
		}
	}
	sfOpts = append(sfOpts, salesforcetest.WithClock(clock))
	sb := &Sandbox{Options: opts, Salesforce: salesforcetest.NewServer(sfOpts...)}
	seeded.Store(true)
	zdOpts := []zendesktest.Option{zendesktest.WithCaseIDField(opts.CaseIDField)}
	if opts.ZendeskRateLimit > 0 {
		zdOpts = append(zdOpts, zendesktest.WithRateLimit(opts.ZendeskRateLimit))
	}
	if opts.JobDelay > 0 {
		zdOpts = append(zdOpts, zendesktest.WithJobDelay(opts.JobDelay))
	}
	sb.Global = zendesktest.NewServer(zdOpts...)
	sb.Federal = zendesktest.NewServer(zdOpts...)
	// Seeding reads Salesforce through the real adapter: without latency.
	sb.Salesforce.SetResponseDelay(0)
	if err := sb.seed(ctx); err != nil {
		sb.Close()
		return nil, err
	}
	if opts.Latency > 0 {
		sb.Salesforce.SetResponseDelay(opts.Latency)
		sb.Global.SetLatency(opts.Latency)
		sb.Federal.SetLatency(opts.Latency)
	}
	return sb, nil
}

// Close stops the fakes.
func (sb *Sandbox) Close() {
	sb.Salesforce.Close()
	sb.Global.Close()
	sb.Federal.Close()
}

// Env returns the configuration variables that point zdsync at the
// sandbox.
func (sb *Sandbox) Env() map[string]string {
	c := sb.Salesforce.Credentials()
	return map[string]string{
		"SALESFORCE_URL":            sb.Salesforce.URL(),
		"SALESFORCE_CLIENT_ID":      c.ClientID,
		"SALESFORCE_CLIENT_SECRET":  c.ClientSecret,
		"SALESFORCE_USERNAME":       c.Username,
		"SALESFORCE_PASSWORD":       c.Password,
		"SALESFORCE_SECURITY_TOKEN": c.SecurityToken,
		"ZENDESK_GLOBAL_URL":        sb.Global.URL(),
		"ZENDESK_GLOBAL_EMAIL":      zendesktest.DefaultEmail,
		"ZENDESK_GLOBAL_API_TOKEN":  zendesktest.DefaultToken,
		"ZENDESK_FEDERAL_URL":       sb.Federal.URL(),
		"ZENDESK_FEDERAL_EMAIL":     zendesktest.DefaultEmail,
		"ZENDESK_FEDERAL_API_TOKEN": zendesktest.DefaultToken,
		"ZENDESK_CASE_ID_FIELD":     fmt.Sprint(sb.Options.CaseIDField),
	}
}

// SalesforceConfig returns the adapter configuration of the fake.
func (sb *Sandbox) SalesforceConfig() salesforce.Config {
	c := sb.Salesforce.Credentials()
	return salesforce.Config{URL: sb.Salesforce.URL(), ClientID: c.ClientID, ClientSecret: c.ClientSecret,
		Username: c.Username, Password: c.Password, SecurityToken: c.SecurityToken}
}

// Rules returns the business rules the sandbox's data is made for, which
// the tests and benchmarks run the jobs with: the configuration's
// defaults (README, "Configuration"; a test of package main keeps the two
// in step).
func Rules() syncer.Rules {
	return syncer.Rules{GreatlyExpiredYears: 3, MaxDeletes: 500, ShrinkRatio: 0.9, ApprovalThreshold: 50, DeleteGrace: 7 * 24 * time.Hour}
}

// orgOf returns the org an account would have after a sync.
func orgOf(scope syncer.Scope, a syncer.Account, now time.Time) syncer.Org {
	d := syncer.Desire(scope, a, now, Rules())
	fields := map[string]any{}
	for k, v := range d.Fields {
		if v != nil {
			fields[k] = v
		}
	}
	return syncer.Org{Name: d.Name, ExternalID: a.ID, Tags: d.Tags, Fields: syncer.FieldsOf(fields)}
}

// generateSelected generates accounts until the global query selects want
// of them, and returns them up to the last one selected (Generate's
// accounts do not depend on how many are asked for, beyond the tenth).
func generateSelected(seed int64, want int, gopts salesforcetest.GenerateOptions) []salesforcetest.Account {
	for n := max(10, want*4/3); ; n = n * 5 / 4 {
		all := salesforcetest.Generate(seed, n, gopts)
		selected := 0
		for i := range all {
			if salesforcetest.MatchesGlobalQuery(&all[i]) {
				if selected++; selected == want {
					return all[:i+1]
				}
			}
		}
	}
}

// picked reports whether record i is among a share of records spread
// evenly: exactly floor(n*share) of the first n records are.
func picked(i int, share float64) bool {
	return math.Floor(float64(i+1)*share) > math.Floor(float64(i)*share)
}

// renewIfGreatlyExpired moves the dates of a greatly expired account a year
// ahead of now, so that it is an ordinary customer.
func renewIfGreatlyExpired(a *salesforcetest.Account, now time.Time) {
	limit := now.AddDate(-salesforcetest.GreatlyExpiredYears, 0, 0).Format(time.DateOnly)
	latest := ""
	if d, ok := a.NextRenewalDate.(string); ok {
		latest = d
	}
	for _, s := range a.CustomerSubscriptions {
		if d, ok := s.EndDate.(string); ok && d > latest {
			latest = d
		}
	}
	for _, s := range a.ZuoraSubscriptions {
		if d, ok := s.EndDate.(string); ok && d > latest {
			latest = d
		}
	}
	if latest == "" || latest > limit {
		return
	}
	next := now.AddDate(1, 0, 0).Format(time.DateOnly)
	a.NextRenewalDate = next
	for i := range a.CustomerSubscriptions {
		a.CustomerSubscriptions[i].Status, a.CustomerSubscriptions[i].EndDate = "Active", next
	}
	for i := range a.ZuoraSubscriptions {
		a.ZuoraSubscriptions[i].Status, a.ZuoraSubscriptions[i].EndDate = "Active", next
	}
}

// handTags are tags people add to orgs by hand.
var handTags = []string{"vip", "escalation_watch", "beta_program", "renewal_risk"}

// seed reads the generated accounts back through the real adapter (so
// that they are judged exactly as a run judges them) and builds Zendesk's
// side from them.
func (sb *Sandbox) seed(ctx context.Context) error {
	sf, err := salesforce.New(ctx, sb.SalesforceConfig())
	if err != nil {
		return fmt.Errorf("sandbox: log in to the fake Salesforce: %w", err)
	}
	global, err := sf.Accounts(ctx, syncer.Global, "")
	if err != nil {
		return fmt.Errorf("sandbox: global accounts: %w", err)
	}
	sb.seedGlobal(global)
	federal, err := sf.Accounts(ctx, syncer.Federal, "")
	if err != nil {
		return fmt.Errorf("sandbox: federal accounts: %w", err)
	}
	contacts, err := sf.FederalContacts(ctx, "")
	if err != nil {
		return fmt.Errorf("sandbox: federal contacts: %w", err)
	}
	sb.seedFederal(federal, contacts)
	return nil
}

// seedGlobal gives the global accounts their Zendesk Global orgs, some
// missing, some stale, some with hand-made tags, the first greatly expired
// ones protected; and adds orgs that are not the sync's.
func (sb *Sandbox) seedGlobal(global []syncer.Account) {
	o := sb.Options
	rng := rand.New(rand.NewPCG(uint64(o.Seed), 0x5eed))
	protect := 0
	for i, a := range global {
		org := orgOf(syncer.Global, a, o.Now)
		r := rng.Float64()
		missing, stale := r < o.Missing, r >= o.Missing && r < o.Missing+o.Stale
		if o.ExactShares {
			missing, stale = picked(i, o.Missing), picked(i, o.Missing+o.Stale) && !picked(i, o.Missing)
		}
		if missing || org.Name == "" {
			continue
		}
		if stale {
			makeStale(&org, rng.IntN(3), o.ExactShares)
		}
		if rng.Float64() < o.HandTags {
			org.Tags = append(org.Tags, handTags[rng.IntN(len(handTags))])
			org.Fields.Set("notes_for_agents", "set by a person; the sync never writes it")
		}
		// The first greatly expired orgs are protected: two tagged
		// do_not_delete, two with a ticket that is not closed.
		greatly := syncer.Desire(syncer.Global, a, o.Now, Rules()).GreatlyExpired
		if greatly && protect < 2 {
			org.Tags = append(org.Tags, syncer.TagDoNotDelete)
		}
		id := sb.Global.AddOrg(org)
		if greatly && protect >= 2 && protect < 4 {
			sb.Global.AddTicket(syncer.Ticket{Subject: "Still open on an expired account", Status: "open", OrgID: id})
		}
		if greatly && protect < 4 {
			sb.Protected = append(sb.Protected, id)
			protect++
		}
	}
	for i := range o.Foreign {
		sb.Global.AddOrg(syncer.Org{Name: fmt.Sprintf("Internal Team %d", i+1), ExternalID: fmt.Sprintf("legacy-%d", i+1), Tags: []string{"internal"}})
	}
}

// makeStale changes an org the way kind says (0: owner, 1: tag, 2: name),
// so that the sync must update it.
func makeStale(org *syncer.Org, kind int, exact bool) {
	if exact && kind == 1 && slices.Contains(org.Tags, "sub_starter") {
		kind = 0 // the tag would change nothing: every stale org must need an update
	}
	switch kind {
	case 0:
		org.Fields.Set("account_owner", "Former Owner")
	case 1:
		org.Tags = append(org.Tags, "sub_starter")
	default:
		org.Name += " (old name)"
	}
}

// seedFederal gives most federal accounts their US Federal org (some
// stale) and most clean contacts of those their user (some renamed).
func (sb *Sandbox) seedFederal(federal []syncer.Account, contacts []syncer.Contact) {
	orgID := map[string]int64{}
	for i, a := range federal {
		if i%5 == 4 {
			continue // to be created by federal-orgs
		}
		org := orgOf(syncer.Federal, a, sb.Options.Now)
		if i%5 == 3 {
			org.Fields.Set("solutions_architect", "Previous Architect")
		}
		orgID[a.ID] = sb.Federal.AddOrg(org)
	}
	seen := map[string]bool{}
	for i, c := range contacts {
		email := syncer.NormalizeEmail(c.Email)
		id, ok := orgID[c.AccountID]
		if !ok || !syncer.ValidEmail(email) || c.Name == "" || seen[email] || i%3 == 0 {
			continue
		}
		seen[email] = true
		name := c.Name
		if i%3 == 1 && i%2 == 0 {
			name = "Old " + name
		}
		sb.Federal.AddUser(syncer.User{Name: name, Email: email, OrgID: id, Role: "end-user", Tags: []string{"federal_customer"}})
	}
}
