package syncer

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// DesiredOrg is the org an account should have in Zendesk.
type DesiredOrg struct {
	Name           string
	ExternalID     string
	Fields         map[string]any // owned fields, normalised
	Tags           []string       // owned tags, sorted
	Expiration     string         // YYYY-MM-DD or ""
	GreatlyExpired bool
	Problems       []FieldProblem
}

// Desire computes the org an account should have in scope, on day now.
func Desire(scope Scope, a Account, now time.Time, rules Rules) DesiredOrg {
	fields := MappedFields(scope)
	d := DesiredOrg{Name: strings.TrimSpace(a.Name), ExternalID: a.ID, Fields: make(map[string]any, len(fields)), Problems: slices.Clone(a.Problems)}
	subs := subscriptionsOf(a)
	d.Problems = append(d.Problems, subs.problems...)
	d.Expiration = subs.expiration
	tags := subs.tags
	for _, m := range fields {
		var v any
		switch m.Zendesk {
		case FieldSupportLevel:
			if subs.level != "" {
				v = subs.level
			}
		case FieldExpirationDate:
			if subs.expiration != "" {
				v = subs.expiration
			}
		default:
			raw := a.Fields.Get(m.Salesforce)
			nv, ok := normalize(m.Type, raw)
			if !ok {
				d.Problems = append(d.Problems, FieldProblem{Field: m.Salesforce, Value: short(raw), Message: fmt.Sprintf("cannot be used as a %s value; %s left unchanged", m.Type, m.Zendesk)})
				continue
			}
			v = nv
		}
		d.Fields[m.Zendesk] = v
	}
	// An account with an evergreen subscription never expires, whatever
	// its other dates say: its org must never be deleted as expired.
	if subs.expiration != "" && !subs.openEnded {
		if exp, err := time.Parse(time.DateOnly, subs.expiration); err == nil {
			today := now.UTC().Truncate(24 * time.Hour)
			if exp.Before(today) {
				tags = append(tags, "expired")
			}
			// Calendar years: three years span 1,095 or 1,096 days.
			if !exp.After(today.AddDate(-rules.GreatlyExpiredYears, 0, 0)) {
				tags = append(tags, "greatly_expired")
				d.GreatlyExpired = true
			}
		}
	}
	if scope == Global && a.Type == "Partner" {
		tags = append(tags, partnerTags(a)...)
	}
	d.Tags = sortedUnique(tags)
	return d
}

// subscriptions is what an account's active subscriptions make of its org.
type subscriptions struct {
	level      string // support level: the highest tier
	expiration string // latest end date, else Next_Renewal_Date__c
	openEnded  bool   // an active subscription has no end date (evergreen)
	tags       []string
	problems   []FieldProblem
	// Where the values come from, for explain: the index in
	// Account.Subscriptions of the subscription that gave the level, the
	// expiration date and the open end (-1: none; an expiration from
	// none is Next_Renewal_Date__c's).
	levelFrom, expirationFrom, openFrom int
}

// subscriptionsOf reads an account's active subscriptions.
func subscriptionsOf(a Account) subscriptions {
	s := subscriptions{levelFrom: -1, expirationFrom: -1, openFrom: -1}
	rank := 0
	for i, sub := range a.Subscriptions {
		if sub.EndDate == "" && !s.openEnded {
			s.openEnded, s.openFrom = true, i
		}
		if sub.Tier != "" {
			if l, r, ok := tierOf(sub.Tier); ok {
				s.tags = append(s.tags, "sub_"+l)
				if r > rank {
					s.level, rank, s.levelFrom = l, r, i
				}
			} else {
				s.problems = append(s.problems, FieldProblem{Field: "subscription tier", Value: sub.Tier, Message: "unknown tier; ignored for the support level"})
			}
		}
		if sub.EndDate > s.expiration {
			s.expiration, s.expirationFrom = sub.EndDate, i
		}
	}
	if s.expiration == "" {
		if v, ok := normalize(Date, a.Fields.Get(sfNextRenewal)); ok && v != nil {
			s.expiration = v.(string)
		}
	}
	if s.level != "" {
		s.tags = append(s.tags, "support_level_"+s.level)
	}
	return s
}

// partnerTags are the partner_… tags of a Partner account.
func partnerTags(a Account) []string {
	var tags []string
	for prefix, f := range map[string]string{"partner_": sfPartnerStatus, "partner_type_": sfPartnerType, "partner_track_": sfPartnerTrack} {
		if v := a.Fields.Get(f); v != nil {
			if w := tagWord(fmt.Sprint(v)); w != "" {
				tags = append(tags, prefix+w)
			}
		}
	}
	return tags
}
