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
	var tags []string

	level, rank := "", 0
	expiration := ""
	openEnded := false // an active subscription without an end date (evergreen)
	for _, s := range a.Subscriptions {
		openEnded = openEnded || s.EndDate == ""
		if s.Tier != "" {
			if l, r, ok := tierOf(s.Tier); ok {
				tags = append(tags, "sub_"+l)
				if r > rank {
					level, rank = l, r
				}
			} else {
				d.Problems = append(d.Problems, FieldProblem{Field: "subscription tier", Value: s.Tier, Message: "unknown tier; ignored for the support level"})
			}
		}
		if s.EndDate > expiration {
			expiration = s.EndDate
		}
	}
	if expiration == "" {
		if v, ok := normalize(Date, a.Fields.Get(sfNextRenewal)); ok && v != nil {
			expiration = v.(string)
		}
	}
	d.Expiration = expiration

	for _, m := range fields {
		var v any
		switch m.Zendesk {
		case FieldSupportLevel:
			if level != "" {
				v = level
			}
		case FieldExpirationDate:
			if expiration != "" {
				v = expiration
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

	if level != "" {
		tags = append(tags, "support_level_"+level)
	}
	// An account with an evergreen subscription never expires, whatever
	// its other dates say: its org must never be deleted as expired.
	if expiration != "" && !openEnded {
		if exp, err := time.Parse(time.DateOnly, expiration); err == nil {
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
		for prefix, f := range map[string]string{"partner_": sfPartnerStatus, "partner_type_": sfPartnerType, "partner_track_": sfPartnerTrack} {
			if v := a.Fields.Get(f); v != nil {
				if w := tagWord(fmt.Sprint(v)); w != "" {
					tags = append(tags, prefix+w)
				}
			}
		}
	}
	d.Tags = sortedUnique(tags)
	return d
}
