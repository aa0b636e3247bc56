package zendesk

import (
	"context"
	"fmt"
	"slices"
	"strings"

	gz "github.com/nukosuke/go-zendesk/zendesk"

	"github.com/zdsync/zdsync/syncer"
)

// CreateOrgs creates organizations with POST /organizations/create_many.json,
// sending only name, external_id, tags and organization_fields. A job whose
// answer was lost is not sent again blindly: the records are first looked up
// by external_id and those found count as created.
func (c *Client) CreateOrgs(ctx context.Context, orgs []syncer.OrgWrite) []syncer.WriteResult {
	s := bulkSpec{
		op: "create org", method: "POST", path: "/organizations/create_many.json", key: "organizations", n: len(orgs),
		record:  func(i int) string { return orgKey(orgs[i]) },
		payload: func(i int) any { return orgPayload(orgs[i], true) },
		lookup: func(ctx context.Context, idx []int) (map[int]int64, error) {
			var exts []string
			for _, i := range idx {
				if orgs[i].ExternalID != "" {
					exts = append(exts, orgs[i].ExternalID)
				}
			}
			found := map[int]int64{}
			if len(exts) == 0 {
				return found, nil
			}
			existing, err := c.OrgsByExternalID(ctx, exts)
			if err != nil {
				return nil, err
			}
			byExt := map[string]int64{}
			for _, o := range existing {
				byExt[o.ExternalID] = o.ID
			}
			for _, i := range idx {
				if id, ok := byExt[orgs[i].ExternalID]; ok && orgs[i].ExternalID != "" {
					found[i] = id
				}
			}
			return found, nil
		},
	}
	s.confirm = s.lookup
	return c.runBulk(ctx, s)
}

// UpdateOrgs updates organizations with PUT /organizations/update_many.json,
// sending each org's id and only what its OrgWrite sets: name when not
// empty, tags when not nil, and the organization_fields keys given (Zendesk
// merges organization_fields per key, so other fields survive).
func (c *Client) UpdateOrgs(ctx context.Context, orgs []syncer.OrgWrite) []syncer.WriteResult {
	ids := make([]int64, len(orgs))
	for i, o := range orgs {
		ids[i] = o.ID
	}
	return c.runBulk(ctx, bulkSpec{
		op: "update org", method: "PUT", path: "/organizations/update_many.json", key: "organizations", n: len(orgs), ids: ids,
		record:  func(i int) string { return orgKey(orgs[i]) },
		payload: func(i int) any { return orgPayload(orgs[i], false) },
		confirm: c.readBack("read back updated orgs", ids, func(i int, o syncer.Org, found bool) bool {
			return found && orgHolds(o, orgs[i])
		}),
	})
}

// orgHolds reports whether org o holds what the update w sent: its name,
// its tags (as a set) and each organization field it set.
func orgHolds(o syncer.Org, w syncer.OrgWrite) bool {
	if w.Name != "" && o.Name != w.Name {
		return false
	}
	if w.Tags != nil && !sameSet(o.Tags, w.Tags) {
		return false
	}
	for k, v := range w.Fields {
		if !syncer.SameFieldValue(k, v, o.Fields.Get(k)) {
			return false
		}
	}
	return true
}

func sameSet(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(slices.Compact(x), slices.Compact(y))
}

// DeleteOrgs deletes organizations with DELETE
// /organizations/destroy_many.json?ids=…. An org already gone counts as
// deleted.
func (c *Client) DeleteOrgs(ctx context.Context, ids []int64) []syncer.WriteResult {
	return c.runBulk(ctx, bulkSpec{
		op: "delete org", method: "DELETE", path: "/organizations/destroy_many.json", n: len(ids), ids: ids, deleting: true,
		record:  func(i int) string { return fmt.Sprint(ids[i]) },
		confirm: c.readBack("read back deleted orgs", ids, func(_ int, _ syncer.Org, found bool) bool { return !found }),
	})
}

// readBack returns a bulkSpec.confirm that reads the orgs ids[i] back (one
// show_many for a job's records) and confirms each record for which holds
// says so, given the org read and whether it was found.
func (c *Client) readBack(op string, ids []int64, holds func(i int, o syncer.Org, found bool) bool) func(context.Context, []int) (map[int]int64, error) {
	return func(ctx context.Context, idx []int) (map[int]int64, error) {
		got, err := c.orgsByID(ctx, op, ids, idx)
		if err != nil {
			return nil, err
		}
		ok := map[int]int64{}
		for _, i := range idx {
			if o, found := got[ids[i]]; holds(i, o, found) {
				ok[i] = ids[i]
			}
		}
		return ok, nil
	}
}

// orgsByID reads the orgs ids[i] for i in idx (at most MaxShowMany: one
// job's records) with one GET /organizations/show_many.json?ids=….
func (c *Client) orgsByID(ctx context.Context, op string, ids []int64, idx []int) (map[int64]syncer.Org, error) {
	list := make([]string, len(idx))
	for n, i := range idx {
		list[n] = fmt.Sprint(ids[i])
	}
	var resp struct {
		Organizations []gz.Organization `json:"organizations"`
	}
	if err := c.get(ctx, op, "", "/organizations/show_many.json?ids="+strings.Join(list, ","), &resp); err != nil {
		return nil, err
	}
	out := make(map[int64]syncer.Org, len(resp.Organizations))
	for _, o := range resp.Organizations {
		out[o.ID] = orgFromAPI(o, nil)
	}
	return out, nil
}

func orgKey(o syncer.OrgWrite) string {
	if o.ExternalID != "" {
		return o.ExternalID
	}
	if o.ID != 0 {
		return fmt.Sprint(o.ID)
	}
	return o.Name
}

// orgPayload is an org as create_many (create) or update_many takes it:
// a create sends its name and its external ID when set, an update its ID
// and its name when not empty; both send the tags when not nil and the
// organization fields when any.
func orgPayload(o syncer.OrgWrite, create bool) map[string]any {
	p := map[string]any{}
	if create {
		p["name"] = o.Name
		if o.ExternalID != "" {
			p["external_id"] = o.ExternalID
		}
	} else {
		p["id"] = o.ID
		if o.Name != "" {
			p["name"] = o.Name
		}
	}
	if o.Tags != nil {
		p["tags"] = o.Tags
	}
	if len(o.Fields) > 0 {
		p["organization_fields"] = o.Fields
	}
	return p
}
