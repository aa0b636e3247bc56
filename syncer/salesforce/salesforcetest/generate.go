package salesforcetest

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// DefaultNow is the reference date of generated data when
// GenerateOptions.Now is zero, so that generated data never depends on the
// wall clock.
var DefaultNow = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)

// GreatlyExpiredYears is how many years ago an account's latest
// subscription end date must be for it to count as "greatly expired"
// ("expired 3+ years": the README's table of jobs); the generator makes
// such accounts.
const GreatlyExpiredYears = 3

// GenerateOptions tunes the generators.
type GenerateOptions struct {
	// Now is the date subscriptions are active, expired or greatly expired
	// relative to; zero means DefaultNow.
	Now time.Time
	// RestrictedAsPicklist sends Restricted_Account__c as a picklist
	// ("Restricted Party" or null), as some orgs have it, instead of a
	// checkbox (true or false).
	RestrictedAsPicklist bool
}

func (o GenerateOptions) now() time.Time {
	if o.Now.IsZero() {
		return DefaultNow
	}
	return o.Now
}

var (
	nameAdjectives = strings.Fields("Acme Apex Arctic Atlas Azure Beacon Blue Bright Cedar Cobalt Coral Crimson Crystal Delta Eagle Echo Emerald Falcon Granite Golden Harbor Horizon Iron Jade Keystone Lunar Maple Meridian Nova Oak Orbit Pacific Pinnacle Polar Quantum Redwood Sierra Silver Solar Summit Titan Union Vertex Vista Willow Zenith Northern")
	nameNouns      = strings.Fields("Analytics Bank Biotech Capital Cloud Logistics Data Devices Dynamics Energy Engineering Foods Freight Games Health Insurance Labs Learning Machines Media Medical Metals Mining Motors Networks Optics Pharma Power Retail Robotics Security Semiconductor Shipping Software Solutions Sports Systems Telecom Textiles Travel Ventures Water Works Airlines Apparel Brewing Chemicals")
	nameSuffixes   = strings.Fields("Inc LLC Ltd GmbH Corp Group Holdings AG SA BV Co PLC")
	agencyWords    = strings.Fields("Agriculture Commerce Defense Education Energy Health Homeland Interior Justice Labor State Transportation Treasury Veterans Navy Army AirForce Space Census Weather Parks Fisheries Geology Standards Archives Patents Mint Customs Coast Marshals Prisons Housing Mines Forestry Oceans Aviation Railroads Highways Pipelines Satellites Cyber Intelligence Logistics Medicine Research Statistics")
	agencyKinds    = strings.Fields("Office Bureau Agency Administration Service Command Center Directorate Division Institute")
	firstNames     = strings.Fields("Ada Alan Alice Amir Ana Ben Carla Chen Dana David Elena Emma Farah Felix Grace Hana Ivan Jack Julia Kai Laura Leo Maria Mateo Mei Nina Noah Olga Omar Paula Priya Rafael Sara Sofia Tom Uma Victor Wei Yara Zoe")
	lastNames      = strings.Fields("Adams Baker Brown Chen Cruz Davis Diaz Evans Fischer Garcia Gupta Hall Ito Jones Kim Kowalski Lee Lopez Martin Meyer Miller Moore Nakamura Nguyen Novak Okafor Patel Perez Rossi Sato Schmidt Silva Singh Smith Taylor Tanaka Walker Wang Weber Young")
	commercialTerr = strings.Fields("AMER_ENT_WEST AMER_ENT_EAST AMER_COMM_CENTRAL EMEA_ENT_DACH EMEA_COMM_UKI EMEA_ENT_FRANCE APAC_ENT_ANZ APAC_COMM_INDIA JAPAN_ENT LATAM_COMM")
	tiers          = []string{"Ultimate", "Premium", "Starter"}
	zuoraLevels    = []string{"Premium", "Standard"}
	planNames      = map[string]any{"Ultimate": "GitLab Ultimate - 1 Year", "Premium": "GitLab Premium - 1 Year", "Starter": "GitLab Starter - 1 Year"}
)

// gen is the state of one generator run.
type gen struct {
	r         *rand.Rand
	now       time.Time
	opts      GenerateOptions
	seedPart  uint64
	nameOff   uint64
	contactNo uint64
	days      map[int]any // formatted dates by offset from now, boxed once
}

func newGen(seed int64, salt uint64, opts GenerateOptions) *gen {
	s := uint64(seed)
	return &gen{
		r:        rand.New(rand.NewPCG(s^salt, s*0x9E3779B97F4A7C15+salt)),
		now:      opts.now(),
		opts:     opts,
		seedPart: (s * 0x9E3779B97F4A7C15 >> 20) % 916132832, // 62^5
		nameOff:  s % 100003,
		days:     map[int]any{},
	}
}

func (g *gen) pick(xs []string) string { return xs[g.r.IntN(len(xs))] }
func (g *gen) chance(pct int) bool     { return g.r.IntN(100) < pct }
func (g *gen) person() string          { return g.pick(firstNames) + " " + g.pick(lastNames) }
func (g *gen) day(offsetDays int) any {
	d, ok := g.days[offsetDays]
	if !ok {
		d = g.now.AddDate(0, 0, offsetDays).Format(time.DateOnly)
		g.days[offsetDays] = d
	}
	return d
}

// uniqueName returns the i-th name of a sequence that never repeats: the
// word combinations are visited in a seed-dependent order, and a number is
// appended once they run out (Zendesk refuses two organizations with one
// name).
func uniqueName(i int, off uint64, a, b, c []string, join func(x, y, z string) string) string {
	m := uint64(len(a) * len(b) * len(c))
	const prime = 1_000_003 // coprime with m for the word lists above
	j := (uint64(i)*prime + off) % m
	name := join(a[j%uint64(len(a))], b[(j/uint64(len(a)))%uint64(len(b))], c[j/uint64(len(a)*len(b))])
	if uint64(i) >= m {
		name += " " + strconv.Itoa(i/int(m)+1)
	}
	return name
}

func slug(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '-':
			b.WriteByte('-')
		}
	}
	return b.String()
}

// subscription states of a generated account.
const (
	subsActive = iota
	subsExpired
	subsGreatlyExpired
	subsNone
)

// fillCommon sets the descriptive fields of a.
func (g *gen) fillCommon(a *Account) {
	a.CARR = math.Round(g.r.Float64()*50_000_000) / 100
	a.Employees = g.pick([]string{"Large", "Mid-Market", "SMB", "PubSec"})
	a.Owner = g.person()
	if g.chance(60) {
		a.TAM = g.person()
	}
	switch {
	case strings.HasPrefix(strings.ToUpper(a.Territory), "PUBSEC"):
		a.Geo = "PUBSEC"
	case a.Territory != "":
		a.Geo, _, _ = strings.Cut(a.Territory, "_")
	}
	if g.chance(85) {
		a.HealthScore = g.pick([]string{"Green", "Green", "Yellow", "Red"})
	}
	restricted := g.chance(5)
	if g.opts.RestrictedAsPicklist {
		if restricted {
			a.Restricted = "Restricted Party"
		}
	} else {
		a.Restricted = restricted
	}
}

// fillSubscriptions gives a its subscriptions, sold-to contacts, licenses
// and next renewal date in the given state.
func (g *gen) fillSubscriptions(a *Account, state int) {
	domain := slug(a.Name) + ".example"
	latest := -100000
	addCustomer := func(status string, end int) {
		tier := g.pick(tiers)
		seats := float64(5 + g.r.IntN(500))
		a.CustomerSubscriptions = append(a.CustomerSubscriptions, CustomerSubscription{
			Status: status, EndDate: g.day(end), StartDate: g.day(end - 365), Seats: seats,
			Tier: tier, Plan: planNames[tier],
		})
	}
	addZuora := func(status string, end int) {
		n := len(a.ZuoraSubscriptions)
		num := "A-S" + strconv.Itoa(10_000_000+g.r.IntN(89_999_999))
		a.ZuoraSubscriptions = append(a.ZuoraSubscriptions, ZuoraSubscription{
			Name: num, Status: status, EndDate: g.day(end), StartDate: g.day(end - 365),
			SupportLevel: g.pick(zuoraLevels), OpportunityName: a.Name + " renewal " + strconv.Itoa(n+1), Number: num,
		})
		email := strings.ToLower(g.pick(firstNames)+"."+g.pick(lastNames)) + "@" + domain
		if n > 0 && g.chance(15) {
			email, _ = a.SoldTo[n-1].Email.(string) // one sold-to for two subscriptions
		}
		a.SoldTo = append(a.SoldTo, SoldTo{Name: a.Name + " Billing " + strconv.Itoa(n+1), Email: email, IsDeleted: g.chance(10)})
	}
	switch state {
	case subsActive:
		for range 1 + g.r.IntN(2) {
			end := 30 + g.r.IntN(700)
			latest = max(latest, end)
			if g.chance(80) {
				addCustomer("Active", end)
			}
			if g.chance(70) {
				addZuora("Active", end)
			}
		}
		for range g.r.IntN(3) {
			end := -(30 + g.r.IntN(1500))
			if g.chance(50) {
				addCustomer(g.pick([]string{"Expired", "Cancelled"}), end)
			} else {
				addZuora(g.pick([]string{"Expired", "Cancelled"}), end)
			}
		}
	case subsExpired:
		for range 1 + g.r.IntN(2) {
			end := -(30 + g.r.IntN(3*365-60)) // within the last three years
			latest = max(latest, end)
			status := g.pick([]string{"Expired", "Cancelled"})
			if g.chance(10) {
				status = "Active" // never closed: active with a past end date
			}
			addCustomer(status, end)
			if g.chance(60) {
				addZuora(status, end)
			}
		}
	case subsGreatlyExpired:
		if g.chance(80) {
			for range 1 + g.r.IntN(2) {
				end := -(3*365 + 10 + g.r.IntN(1000))
				latest = max(latest, end)
				addCustomer(g.pick([]string{"Expired", "Cancelled"}), end)
				addZuora("Expired", end)
			}
		} else {
			latest = -(3*365 + 10 + g.r.IntN(1000))
		}
	}
	seats := 0.0
	for _, s := range a.CustomerSubscriptions {
		if s.Status == "Active" {
			seats += s.Seats.(float64)
		}
	}
	a.Licenses = seats
	if latest > -100000 && (state != subsActive || g.chance(90)) {
		a.NextRenewalDate = g.day(latest)
	}
}

// Generate makes n accounts, deterministic for a seed, for the global sync:
// customers with several active and inactive customer and Zuora
// subscriptions (tiers "Ultimate", "Premium", "Starter"; Zuora support
// levels "Premium", "Standard") and sold-to contacts; former customers,
// some greatly expired (latest end date 3+ years before opts.Now); partners
// that meet the partner criteria and partners that miss one; accounts
// outside every query; and customers in federal territories (PUBSEC…, the
// excluded PUBSEC_ and SLED ones) or with Support_Instance__c
// federal-support. When n >= 10 the first account is SpecialAccountID,
// typed so that only its ID selects it. IDs are 18 characters, unique and
// derived from the seed; names are unique.
func Generate(seed int64, n int, opts GenerateOptions) []Account {
	g := newGen(seed, 0x61636374, opts)
	out := make([]Account, n)
	for i := range out {
		a := &out[i]
		a.ID = makeID("001", 'G', g.seedPart, uint64(i))
		a.Name = uniqueName(i, g.nameOff, nameAdjectives, nameNouns, nameSuffixes, func(x, y, z string) string { return x + " " + y + " " + z })
		if i == 0 && n >= 10 {
			a.ID = SpecialAccountID
			a.Type = "Vendor"
			a.Territory = g.pick(commercialTerr)
			g.fillCommon(a)
			g.fillSubscriptions(a, subsActive)
			continue
		}
		state := subsActive
		k := g.r.IntN(100)
		switch {
		case k < 52:
			a.Type = "Customer"
		case k < 60:
			a.Type, state = "Former Customer", subsExpired
		case k < 65:
			a.Type, state = "Former Customer", subsGreatlyExpired
		case k < 66:
			a.Type, state = "Customer", subsGreatlyExpired // still typed Customer
		case k < 76:
			a.Type = "Partner"
			a.PartnerStatus = g.pick([]string{"Authorized", "Former"})
			a.PartnerType = g.pick([]string{"Alliance", "Channel"})
			a.PartnerTrack = g.pick([]string{"Open", "Select", "Technology"})
			if g.chance(40) {
				state = subsNone
			}
		case k < 84:
			a.Type, state = "Partner", subsNone
			a.PartnerStatus = g.pick([]string{"Authorized", "Former"})
			a.PartnerType = g.pick([]string{"Alliance", "Channel"})
			a.PartnerTrack = g.pick([]string{"Open", "Select", "Technology"})
			switch g.r.IntN(4) { // miss exactly one criterion
			case 0:
				a.PartnerStatus = g.pick([]string{"Pending", "Terminated"})
			case 1:
				a.PartnerType = g.pick([]string{"Referral", "Reseller"})
			case 2:
				a.PartnerTrack = g.pick([]string{"Legacy", "Registered"})
			case 3:
				a.PartnerStatus = ""
			}
		default:
			a.Type = g.pick([]string{"Prospect", "Prospect", "Vendor", "Other", ""})
			state = subsNone
			if g.chance(20) {
				state = subsExpired
			}
		}
		a.Territory = g.pick(commercialTerr)
		if a.Type == "Customer" || a.Type == "Former Customer" || g.chance(10) {
			switch k := g.r.IntN(100); {
			case k < 6:
				a.Territory = g.pick([]string{"PUBSEC_FED_CIV", "PUBSEC_DOD", "PUBSEC_INTEL"})
			case k < 8:
				a.Territory = "PUBSEC_"
			case k < 10:
				a.Territory = g.pick([]string{"PUBSEC_SLED_EAST", "PUBSEC_SLED_WEST"})
			case k < 12:
				a.SupportInstance = "federal-support"
			}
		}
		g.fillCommon(a)
		g.fillSubscriptions(a, state)
	}
	return out
}

// GenerateFederal makes n accounts for the US Federal sync, deterministic
// for a seed, and their contacts. The accounts are selected by territory
// (PUBSEC…, in any letter case), by Support_Instance__c federal-support, or
// not selected (territory exactly PUBSEC_, a SLED territory, a prospect, a
// commercial customer). The contacts include every dirty case the federal
// users sync must handle: missing e-mail, missing name, no account (not
// selected, as in Salesforce) and a blank account ID, a duplicate e-mail
// within one account, one e-mail on two accounts, inactive contacts, and
// mixed-case e-mails with surrounding spaces. With n >= 2 each of these
// occurs at least once. Account IDs differ from Generate's for any seed.
func GenerateFederal(seed int64, n int, opts GenerateOptions) ([]Account, []Contact) {
	g := newGen(seed, 0x66656465, opts)
	accounts := make([]Account, n)
	var contacts []Contact
	var allEmails []string
	for i := range accounts {
		a := &accounts[i]
		state := g.federalAccount(i, a)
		if g.chance(70) {
			a.SolutionsArchitect = g.person()
		}
		g.fillCommon(a)
		g.fillSubscriptions(a, state)
		m := &contactMaker{g: g, accountID: a.ID, domain: slug(a.Name) + ".example", used: map[string]bool{}, out: &contacts}
		m.make(i, allEmails)
		allEmails = append(allEmails, m.own...)
	}
	return accounts, contacts
}

// federalAccount makes the i-th federal account's ID, name, type and
// territory (or support instance), and returns the state of its
// subscriptions. The first is selected by territory, the second by
// support instance.
func (g *gen) federalAccount(i int, a *Account) (state int) {
	a.ID = makeID("001", 'F', g.seedPart, uint64(i))
	a.Name = uniqueName(i, g.nameOff, agencyWords, agencyKinds, []string{"U.S.", "Federal", "National"},
		func(x, y, z string) string { return z + " " + x + " " + y })
	a.Type = "Customer"
	state = subsActive
	k := g.r.IntN(100)
	if i == 0 {
		k = 0
	} else if i == 1 {
		k = 55
	}
	switch {
	case k < 45:
		a.Territory = g.pick([]string{"PUBSEC_FED_CIV", "PUBSEC_DOD", "PUBSEC_INTEL", "PUBSEC_NAVY"})
	case k < 52:
		a.Territory = g.pick([]string{"PUBSEC_FED_CIV", "PUBSEC_DOD"})
		a.Type, state = "Former Customer", subsExpired
	case k < 62:
		a.SupportInstance = "federal-support"
		if g.chance(50) {
			a.Territory = g.pick(commercialTerr)
		}
	case k < 66:
		a.Territory = "pubsec_fed_civ" // LIKE is case-insensitive: selected
	case k < 74:
		a.Territory = "PUBSEC_"
	case k < 82:
		a.Territory = g.pick([]string{"PUBSEC_SLED_EAST", "PUBSEC_SLED_WEST", "SLED_PUBSEC"})
	case k < 90:
		a.Territory = "PUBSEC_DOD"
		a.Type, state = "Prospect", subsNone
	default:
		a.Territory = g.pick(commercialTerr)
	}
	return state
}

// contactMaker makes the contacts of one generated federal account.
type contactMaker struct {
	g         *gen
	accountID string
	domain    string          // the e-mail domain of the account's contacts
	used      map[string]bool // local parts given out in the domain
	own       []string        // the e-mails of the account's contacts
	out       *[]Contact
}

// make adds the contacts of the i-th account: the first two carry every
// dirty case once (allEmails are the e-mails of the accounts before), the
// others a few contacts each, some dirty.
func (m *contactMaker) make(i int, allEmails []string) {
	g := m.g
	switch i {
	case 0:
		c := m.clean()
		m.add(c)
		m.add(Contact{Name: g.person()})                                  // missing e-mail
		m.add(Contact{Email: m.clean().Email})                            // missing name
		m.add(Contact{Name: g.person(), Email: strings.ToUpper(c.Email)}) // duplicate within the account
		in := m.clean()
		in.Inactive = true
		m.add(in) // inactive
		b := m.clean()
		b.BlankAccountID = true
		m.add(b) // blank account ID
	case 1:
		m.add(Contact{Name: g.person(), Email: allEmails[0]}) // same e-mail as on account 0
		c := m.clean()
		c.Email = "  " + strings.ToUpper(c.Email[:1]) + c.Email[1:] + " " // mixed case with spaces
		m.add(c)
		m.orphan()
	default:
		for range 1 + g.r.IntN(5) {
			c := m.clean()
			switch k := g.r.IntN(100); {
			case k < 3:
				c.Email = ""
			case k < 5:
				c.Name = ""
			case k < 12:
				c.Inactive = true
			case k < 18:
				c.Email = "  " + strings.ToUpper(c.Email[:1]) + c.Email[1:] + " "
			case k < 21 && len(m.own) > 0:
				c.Email = strings.ToUpper(m.own[g.r.IntN(len(m.own))])
			case k < 23 && len(allEmails) > 0:
				c.Email = allEmails[g.r.IntN(len(allEmails))]
			case k < 24:
				c.BlankAccountID = true
			}
			m.add(c)
		}
		if g.chance(2) {
			m.orphan()
		}
	}
}

// add adds a contact of the account.
func (m *contactMaker) add(c Contact) {
	m.g.contactNo++
	c.ID = makeID("003", 'F', m.g.seedPart, m.g.contactNo)
	c.AccountID = m.accountID
	*m.out = append(*m.out, c)
	if c.Email != "" {
		m.own = append(m.own, c.Email)
	}
}

// orphan adds a contact with no account (the query does not select it).
func (m *contactMaker) orphan() {
	m.g.contactNo++
	id := makeID("003", 'F', m.g.seedPart, m.g.contactNo)
	name := m.g.person()
	*m.out = append(*m.out, Contact{ID: id, Name: name, Email: m.clean().Email})
}

// clean returns a contact with a name and an e-mail unique in the domain.
func (m *contactMaker) clean() Contact {
	first, last := m.g.pick(firstNames), m.g.pick(lastNames)
	local := strings.ToLower(first + "." + last)
	for n := 2; m.used[local]; n++ {
		local = strings.ToLower(first+"."+last) + strconv.Itoa(n)
	}
	m.used[local] = true
	return Contact{Name: first + " " + last, Email: local + "@" + m.domain}
}
