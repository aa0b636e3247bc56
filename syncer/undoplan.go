package syncer

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// UndoState is what an undo plans against: the records the undone run
// changed, as they are in Zendesk now, and which of the orgs it created
// have tickets.
type UndoState struct {
	Orgs    []Org          // the orgs with the external IDs the run changed
	Users   []User         // the users with the e-mails the run changed
	Tickets map[int64]bool // org ID → has any ticket (orgs the run created)
}

// PlanUndo plans the reversal of a run from its applied changes (in the
// order it made them) and the state now (README, "Undo"). It is pure.
//   - An org the run updated gets back, field by field and tag by tag, the
//     values of its before-image, only where it still holds what the run
//     wrote; the rest is skipped with CodePlanStale.
//   - An org the run created is deleted, only if it is still as the run
//     left it and has no tickets; otherwise skipped with CodePlanStale.
//   - An org the run deleted is created again with its fields, tags and
//     external_id, and the users that were its members attached again;
//     unless an org has its external_id now (skipped, CodePlanStale).
//   - A user the run updated gets its name and organization back where
//     they still hold what the run wrote; users it created are left.
func PlanUndo(runID string, applied []AppliedChange, now UndoState) Plan {
	orgs := map[string][]Org{}
	for _, o := range now.Orgs {
		orgs[o.ExternalID] = append(orgs[o.ExternalID], o)
	}
	users := map[string]User{}
	for _, u := range now.Users {
		users[NormalizeEmail(u.Email)] = u
	}
	var p Plan
	for _, story := range stories(applied) {
		switch story.kind {
		case "org":
			p.Changes = append(p.Changes, undoOrg(runID, story, orgs[story.key], now.Tickets)...)
		case "user":
			p.Changes = append(p.Changes, undoUser(runID, story, users)...)
		default:
			p.Changes = append(p.Changes, Change{Action: Skip, Kind: story.kind, Key: story.key,
				Reason: "memberships go with their org: nothing to undo on their own"})
		}
	}
	return p
}

// story is what a run did to one record, in order.
type story struct {
	kind, key string
	changes   []AppliedChange
}

// stories groups a run's applied changes by record, in the order the
// records first appear.
func stories(applied []AppliedChange) []*story {
	var out []*story
	by := map[string]*story{}
	for _, c := range applied {
		k := c.Kind + "/" + c.Key
		s := by[k]
		if s == nil {
			s = &story{kind: c.Kind, key: c.Key}
			by[k] = s
			out = append(out, s)
		}
		s.changes = append(s.changes, c)
	}
	return out
}

// stale is a skip reported with CodePlanStale: the record changed since
// the run.
func stale(kind, key, name, reason string) Change {
	return Change{Action: Skip, Kind: kind, Key: key, Name: name, Reason: reason, SkipCode: CodePlanStale}
}

// undoOrg plans the reversal of what a run did to one org.
func undoOrg(runID string, st *story, now []Org, tickets map[int64]bool) []Change {
	first := st.changes[0]
	switch first.Action {
	case Create:
		return undoCreate(runID, st, now, tickets)
	case Delete:
		return undoDelete(runID, first, now)
	}
	return undoUpdates(runID, st, now)
}

// written is an org as a run's writes left it: the create's payload (or
// nothing), then each update's name, tags and fields.
type written struct {
	name     string
	tags     []string // nil: not written
	fields   map[string]any
	fieldSeq []string // field keys in the order first written
}

func (w *written) apply(o *OrgWrite) {
	if o == nil {
		return
	}
	if o.Name != "" {
		w.name = o.Name
	}
	if o.Tags != nil {
		w.tags = sortedUnique(o.Tags)
		if w.tags == nil {
			w.tags = []string{}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(o.Fields)) {
		if _, seen := w.fields[k]; !seen {
			w.fieldSeq = append(w.fieldSeq, k)
		}
		w.fields[k] = o.Fields[k]
	}
}

func writes(cs []AppliedChange) *written {
	w := &written{fields: map[string]any{}}
	for _, c := range cs {
		w.apply(c.Org)
	}
	return w
}

// find returns the org with the ID among now.
func find(now []Org, id int64) (Org, bool) {
	for _, o := range now {
		if o.ID == id {
			return o, true
		}
	}
	return Org{}, false
}

// undoCreate deletes an org the run created, if it is as the run left it
// and has no tickets.
func undoCreate(runID string, st *story, now []Org, tickets map[int64]bool) []Change {
	id := st.changes[0].ID
	for _, c := range st.changes {
		if id == 0 {
			id = c.ID
		}
	}
	o, ok := find(now, id)
	if !ok {
		return []Change{{Action: Skip, Kind: "org", Key: st.key, Name: st.changes[0].Name, ID: id,
			Reason: "the org run " + runID + " created is gone already"}}
	}
	w := writes(st.changes)
	if diff := differences(o, w, true); diff != "" {
		return []Change{stale("org", st.key, o.Name, "not deleted: it changed since run "+runID+" created it ("+diff+")")}
	}
	if tickets[o.ID] {
		return []Change{stale("org", st.key, o.Name, "not deleted: it has tickets now")}
	}
	return []Change{{Action: Delete, Kind: "org", Key: st.key, Name: o.Name, ID: o.ID,
		Reason: "undo of run " + runID + ", which created it", Before: mustJSON(o)}}
}

// differences says how an org differs from what a run wrote ("" when it
// does not): its name, the tags when written, each field written, and —
// for an org the run created (whole) — any other field set since.
func differences(o Org, w *written, whole bool) string {
	var out []string
	if w.name != "" && o.Name != w.name {
		out = append(out, fmt.Sprintf("name is %q", o.Name))
	}
	if w.tags != nil && !slices.Equal(sortedUnique(o.Tags), nilIfEmpty(w.tags)) {
		out = append(out, "tags are "+strings.Join(sortedUnique(o.Tags), " "))
	}
	for _, k := range w.fieldSeq {
		if !sameField(k, o.Fields.Get(k), w.fields[k]) {
			out = append(out, fmt.Sprintf("%s is %s", k, orNone(canon(fieldTypeOf(k), o.Fields.Get(k)))))
		}
	}
	if whole {
		for _, f := range o.Fields {
			if _, ok := w.fields[f.Key]; !ok && canon(fieldTypeOf(f.Key), f.Value) != "" {
				out = append(out, f.Key+" was set")
			}
		}
	}
	return strings.Join(out, "; ")
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

// fieldTypeOf is the type of an org field: the mapping's, else text.
func fieldTypeOf(key string) FieldType {
	for _, m := range OrgFields {
		if m.Zendesk == key {
			return m.Type
		}
	}
	return Text
}

// sameField compares two values of an org field as the planner does.
func sameField(key string, a, b any) bool {
	t := fieldTypeOf(key)
	return canon(t, a) == canon(t, b)
}

// undoDelete creates again an org the run deleted, with its members.
func undoDelete(runID string, c AppliedChange, now []Org) []Change {
	var d DeletedOrg
	_ = json.Unmarshal(c.Before, &d)
	if len(now) > 0 {
		return []Change{stale("org", c.Key, d.Name, fmt.Sprintf("not re-created: org %d has this external_id now", now[0].ID))}
	}
	fields := map[string]any{}
	for _, f := range d.Fields {
		if f.Value != nil {
			fields[f.Key] = f.Value
		}
	}
	reason := fmt.Sprintf("undo of run %s, which deleted it: re-created with its fields, tags and %d member(s)", runID, len(d.Members))
	if d.Members == nil {
		reason = "undo of run " + runID + ", which deleted it: re-created with its fields and tags (its members were not recorded)"
	}
	out := []Change{{Action: Create, Kind: "org", Key: c.Key, Name: d.Name, Reason: reason,
		Org: &OrgWrite{ExternalID: c.Key, Name: d.Name, Tags: append([]string{}, d.Tags...), Fields: fields}}}
	for _, m := range d.Members {
		out = append(out, Change{Action: Create, Kind: "membership", Key: c.Key, Name: fmt.Sprintf("user %d", m.UserID), ID: m.UserID,
			Parent: c.Key, Member: &Membership{UserID: m.UserID, Default: m.Default}, Reason: "attach again to the re-created org"})
	}
	return out
}

// undoUpdates reverts what the run's updates wrote to an org, where the
// org still holds it.
func undoUpdates(runID string, st *story, now []Org) []Change {
	first := st.changes[0]
	var before Org
	_ = json.Unmarshal(first.Before, &before)
	o, ok := find(now, first.ID)
	if !ok {
		return []Change{stale("org", st.key, first.Name, "not reverted: the org no longer exists")}
	}
	w := writes(st.changes)
	rev := &OrgWrite{ID: o.ID, ExternalID: st.key}
	var diffs []FieldDiff
	var conflicts []string
	if w.name != "" && w.name != before.Name {
		if o.Name == w.name {
			rev.Name = before.Name
			diffs = append(diffs, FieldDiff{Field: "name", Before: o.Name, After: before.Name})
		} else {
			conflicts = append(conflicts, fmt.Sprintf("name is %q now, run %s wrote %q", o.Name, runID, w.name))
		}
	}
	for _, k := range w.fieldSeq {
		t := fieldTypeOf(k)
		was, wrote, is := before.Fields.Get(k), w.fields[k], o.Fields.Get(k)
		switch {
		case sameField(k, was, wrote):
		case sameField(k, is, wrote):
			if rev.Fields == nil {
				rev.Fields = map[string]any{}
			}
			rev.Fields[k] = was // nil clears it
			diffs = append(diffs, FieldDiff{Field: k, Before: canon(t, is), After: canon(t, was)})
		default:
			conflicts = append(conflicts, fmt.Sprintf("%s is %s now, run %s wrote %s", k, orNone(canon(t, is)), runID, orNone(canon(t, wrote))))
		}
	}
	if w.tags != nil {
		tags, tagConflicts := revertTags(sortedUnique(before.Tags), w.tags, sortedUnique(o.Tags))
		if !slices.Equal(tags, sortedUnique(o.Tags)) {
			rev.Tags = append([]string{}, tags...)
			diffs = append(diffs, FieldDiff{Field: "tags", Before: strings.Join(sortedUnique(o.Tags), " "), After: strings.Join(tags, " ")})
		}
		for _, t := range tagConflicts {
			conflicts = append(conflicts, fmt.Sprintf("tag %s was removed since run %s added it", t, runID))
		}
	}
	return reverted(Change{Action: Update, Kind: "org", Key: st.key, Name: o.Name, ID: o.ID, Diffs: diffs, Org: rev,
		Reason: "undo of run " + runID, Before: mustJSON(o)}, conflicts, runID)
}

// reverted returns an undo's changes of one record: the revert when it
// changes something, a skip with CodePlanStale naming what changed since
// the run, and a plain skip when the record is already as before.
func reverted(revert Change, conflicts []string, runID string) []Change {
	var out []Change
	if len(revert.Diffs) > 0 {
		out = append(out, revert)
	}
	if len(conflicts) > 0 {
		out = append(out, stale(revert.Kind, revert.Key, revert.Name, "not reverted: "+strings.Join(conflicts, "; ")))
	}
	if len(out) == 0 {
		out = append(out, Change{Action: Skip, Kind: revert.Kind, Key: revert.Key, Name: revert.Name, ID: revert.ID, Reason: "already as before run " + runID})
	}
	return out
}

// revertTags takes back, tag by tag, what a run did to an org's tags: a
// tag it added and that is still there goes, a tag it removed and that is
// still gone comes back. A tag it added that is gone already is reported.
func revertTags(before, wrote, now []string) (tags, conflicts []string) {
	set := map[string]bool{}
	for _, t := range now {
		set[t] = true
	}
	for _, t := range wrote {
		if !slices.Contains(before, t) {
			if set[t] {
				delete(set, t)
			} else {
				conflicts = append(conflicts, t)
			}
		}
	}
	for _, t := range before {
		if !slices.Contains(wrote, t) {
			set[t] = true
		}
	}
	return slices.Sorted(maps.Keys(set)), conflicts
}

// undoUser reverts what a run did to one user.
func undoUser(runID string, st *story, users map[string]User) []Change {
	first := st.changes[0]
	if first.Action == Create {
		return []Change{{Action: Skip, Kind: "user", Key: st.key, Name: first.Name,
			Reason: "users a run created are left in place (they may have tickets): delete it in Zendesk by hand if it must go"}}
	}
	var before User
	_ = json.Unmarshal(first.Before, &before)
	var wrote UserWrite
	for _, c := range st.changes {
		if c.User != nil {
			wrote = *c.User
		}
	}
	u, ok := users[NormalizeEmail(st.key)]
	if !ok {
		return []Change{stale("user", st.key, first.Name, "not reverted: the user no longer exists")}
	}
	rev := UserWrite{Email: u.Email, Name: u.Name, OrgID: u.OrgID, Existing: true}
	var diffs []FieldDiff
	var conflicts []string
	if wrote.Name != before.Name {
		if u.Name == wrote.Name {
			rev.Name = before.Name
			diffs = append(diffs, FieldDiff{Field: "name", Before: u.Name, After: before.Name})
		} else {
			conflicts = append(conflicts, fmt.Sprintf("name is %q now, run %s wrote %q", u.Name, runID, wrote.Name))
		}
	}
	if wrote.OrgID != before.OrgID {
		switch {
		case u.OrgID != wrote.OrgID:
			conflicts = append(conflicts, fmt.Sprintf("organization is %s now, run %s set %s", orNone(idText(u.OrgID)), runID, idText(wrote.OrgID)))
		case before.OrgID == 0:
			conflicts = append(conflicts, "the organization cannot be taken away by the sync's user update; remove it in Zendesk by hand")
		default:
			rev.OrgID = before.OrgID
			diffs = append(diffs, FieldDiff{Field: "organization_id", Before: idText(u.OrgID), After: idText(before.OrgID)})
		}
	}
	return reverted(Change{Action: Update, Kind: "user", Key: st.key, Name: u.Name, ID: u.ID, Diffs: diffs, User: &rev,
		Reason: "undo of run " + runID, Before: mustJSON(u)}, conflicts, runID)
}
