package zendesk

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"

	gz "github.com/nukosuke/go-zendesk/zendesk"

	"github.com/zdsync/zdsync/syncer"
)

// ListOrgs returns every organization, read in cursor pages of PageSize
// (see EachOrgPage).
func (c *Client) ListOrgs(ctx context.Context) ([]syncer.Org, error) {
	var out []syncer.Org
	if err := c.EachOrgPage(ctx, func(page []syncer.Org) { out = append(out, page...) }); err != nil {
		return nil, err
	}
	return out, nil
}

// ListUsers returns every user, read in cursor pages of PageSize with the
// library's iterator.
func (c *Client) ListUsers(ctx context.Context) ([]syncer.User, error) {
	it := c.api.GetUsersIterator(ctx, gz.NewPaginationOptions())
	var out []syncer.User
	for it.HasMore() {
		page, err := it.GetNext()
		if err != nil {
			return nil, classify("list users", "", err)
		}
		for _, u := range page {
			out = append(out, userFromAPI(u))
		}
	}
	return out, nil
}

// EachOrgPage reads every organization in cursor pages of PageSize with
// the library's iterator, and hands each page to fn as it arrives, so that
// a caller can stop the listing early (by cancelling ctx) and keep what was
// read. It returns nil only when the listing reached its end
// (syncer.OrgReader).
func (c *Client) EachOrgPage(ctx context.Context, fn func(page []syncer.Org)) error {
	it := c.api.GetOrganizationsIterator(ctx, gz.NewPaginationOptions())
	shared := new(syncer.Interner)
	for it.HasMore() {
		page, err := it.GetNext()
		if err != nil {
			return classify("list orgs", "", err)
		}
		out := make([]syncer.Org, len(page))
		for i, o := range page {
			out[i] = orgFromAPI(o, shared)
		}
		fn(out)
	}
	return nil
}

// OrgCount returns the number of organizations (GET
// /organizations/count.json; Zendesk may serve a cached count for large
// accounts, which is fine for what it is used for: choosing how to read).
func (c *Client) OrgCount(ctx context.Context) (int, error) {
	var out struct {
		Count struct {
			Value int `json:"value"`
		} `json:"count"`
	}
	if err := c.get(ctx, "count orgs", "", "/organizations/count.json", &out); err != nil {
		return 0, err
	}
	return out.Count.Value, nil
}

// OrgsByExternalID returns the orgs whose external_id is one of ids, with
// GET /organizations/show_many.json?external_ids=… (MaxShowMany a call).
// Up to Config.MaxReadsInFlight calls are in flight at once, paced by the
// rate limiter like every other request: a sequential listing at 100 ms a
// call cannot use a 700-a-minute budget, parallel look-ups can. The orgs
// come back in the order of ids' chunks; the first error ends the look-up.
func (c *Client) OrgsByExternalID(ctx context.Context, ids []string) ([]syncer.Org, error) {
	results := make([][]syncer.Org, len(chunks(len(ids), MaxShowMany)))
	if err := c.lookUpOrgs(ctx, ids, func(n int, page []syncer.Org) { results[n] = page }); err != nil {
		return nil, err
	}
	var out []syncer.Org
	for _, r := range results {
		out = append(out, r...)
	}
	return out, nil
}

// EachOrgByExternalID looks the orgs up as OrgsByExternalID does and hands
// each call's orgs to fn as they arrive (one call of fn at a time), so
// that a caller need not hold them all (syncer.OrgReader).
func (c *Client) EachOrgByExternalID(ctx context.Context, ids []string, fn func(page []syncer.Org)) error {
	return c.lookUpOrgs(ctx, ids, func(_ int, page []syncer.Org) { fn(page) })
}

// lookUpOrgs runs the look-ups of OrgsByExternalID and hands the orgs of
// the n-th chunk of ids to fn, one call at a time.
func (c *Client) lookUpOrgs(ctx context.Context, ids []string, fn func(n int, page []syncer.Org)) error {
	parts := chunks(len(ids), MaxShowMany)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	sem := make(chan struct{}, c.reads)
	shared := new(syncer.Interner)
	for n, idx := range parts {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			esc := make([]string, 0, len(idx))
			for _, i := range idx {
				esc = append(esc, url.QueryEscape(ids[i]))
			}
			var resp struct {
				Organizations []gz.Organization `json:"organizations"`
			}
			path := "/organizations/show_many.json?external_ids=" + strings.Join(esc, ",")
			if err := c.get(ctx, "look up orgs by external ID", "", path, &resp); err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
					cancel()
				}
				mu.Unlock()
				return
			}
			out := make([]syncer.Org, len(resp.Organizations))
			for i, o := range resp.Organizations {
				out[i] = orgFromAPI(o, shared)
			}
			mu.Lock()
			defer mu.Unlock()
			if firstErr == nil {
				fn(n, out)
			}
		})
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = classify("look up orgs by external ID", "", ctx.Err())
	}
	return firstErr
}

// GetOrg returns one organization.
func (c *Client) GetOrg(ctx context.Context, id int64) (syncer.Org, error) {
	o, err := c.api.GetOrganization(ctx, id)
	if err != nil {
		return syncer.Org{}, classify("get org", fmt.Sprint(id), err)
	}
	return orgFromAPI(o, nil), nil
}

// UsersByEmail returns the users with one of the given e-mails (compared
// case-insensitively), one GET /users/search.json?query=email:… a distinct
// e-mail.
func (c *Client) UsersByEmail(ctx context.Context, emails []string) ([]syncer.User, error) {
	seen := map[string]bool{}
	var out []syncer.User
	for _, e := range emails {
		key := strings.ToLower(strings.TrimSpace(e))
		if key == "" || seen[key] {
			continue
		}
		seen[key] = true
		var resp struct {
			Users []gz.User `json:"users"`
		}
		path := "/users/search.json?" + url.Values{"query": {"email:" + key}}.Encode()
		if err := c.get(ctx, "look up user by e-mail", e, path, &resp); err != nil {
			return nil, err
		}
		for _, u := range resp.Users {
			if strings.EqualFold(u.Email, key) {
				out = append(out, userFromAPI(u))
			}
		}
	}
	return out, nil
}

// OrgHasOpenTickets reports whether the org has a ticket whose status is
// not closed, reading GET /organizations/{id}/tickets.json in cursor pages
// and stopping at the first such ticket.
func (c *Client) OrgHasOpenTickets(ctx context.Context, orgID int64) (bool, error) {
	type ticketsPage struct {
		Tickets []struct {
			Status string `json:"status"`
		} `json:"tickets"`
		Meta cursorMeta `json:"meta"`
	}
	open := false
	path := fmt.Sprintf("/organizations/%d/tickets.json", orgID)
	err := readPages(ctx, c, "list org tickets", fmt.Sprint(orgID), path, func(p *ticketsPage) (cursorMeta, bool) {
		for _, t := range p.Tickets {
			if t.Status != "closed" {
				open = true
				return p.Meta, false
			}
		}
		return p.Meta, true
	})
	return open, err
}

// cursorMeta is the "meta" of a page of a cursor-paginated list (Zendesk
// API, "Pagination").
type cursorMeta struct {
	HasMore     bool   `json:"has_more"`
	AfterCursor string `json:"after_cursor"`
}

// readPages reads the list at path in cursor pages of PageSize, each into
// a new P, and hands each to use, which returns the page's meta and
// whether to read on; it stops when use says so or the list ends. A page
// that says has_more without a new after_cursor is CodeBadResponse: the
// records left unread would otherwise pass for none (an org's open
// tickets, which keep it from deletion; its members, which an undo
// attaches again).
func readPages[P any](ctx context.Context, c *Client, op, record, path string, use func(*P) (cursorMeta, bool)) error {
	after := ""
	for {
		q := url.Values{"page[size]": {strconv.Itoa(PageSize)}}
		if after != "" {
			q.Set("page[after]", after)
		}
		var p P
		if err := c.get(ctx, op, record, path+"?"+q.Encode(), &p); err != nil {
			return err
		}
		meta, more := use(&p)
		if !more || !meta.HasMore {
			return nil
		}
		if meta.AfterCursor == "" || meta.AfterCursor == after {
			return &syncer.Error{Code: syncer.CodeBadResponse, Op: op, Record: record,
				Message: "Zendesk answered has_more without a new after_cursor"}
		}
		after = meta.AfterCursor
	}
}

// orgFromAPI keeps what the sync reads of an org, compactly: a sync holds
// every org at once. Field names, tags and field values repeat across
// orgs and are shared through shared (one per read; may be nil); fields
// that are null (Zendesk sends every field of every org, null when unset)
// are left out.
func orgFromAPI(o gz.Organization, shared *syncer.Interner) syncer.Org {
	n := 0
	for _, v := range o.OrganizationFields {
		if v != nil {
			n++
		}
	}
	fields := make(syncer.FieldValues, 0, n)
	for k, v := range o.OrganizationFields {
		if v == nil {
			continue
		}
		if k != syncer.FieldSalesforceID { // unique to the org: nothing to share
			v = shared.Value(v)
		}
		fields = append(fields, syncer.FieldValue{Key: shared.String(k), Value: v})
	}
	fields.Sort()
	var tags []string
	if o.Tags != nil {
		tags = make([]string, len(o.Tags))
		for i, t := range o.Tags {
			tags[i] = shared.String(t)
		}
	}
	return syncer.Org{ID: o.ID, Name: o.Name, ExternalID: o.ExternalID, Tags: tags, Fields: fields, UpdatedAt: o.UpdatedAt}
}

func userFromAPI(u gz.User) syncer.User {
	return syncer.User{ID: u.ID, Name: u.Name, Email: u.Email, OrgID: u.OrganizationID, Role: u.Role,
		Tags: u.Tags, Fields: map[string]any(u.UserFields), ExternalID: u.ExternalID}
}
