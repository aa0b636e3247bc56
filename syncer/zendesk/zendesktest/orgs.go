package zendesktest

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/zdsync/zdsync/syncer"
)

type org struct {
	ID          int64          `json:"id"`
	URL         string         `json:"url"`
	Name        string         `json:"name"`
	ExternalID  *string        `json:"external_id"`
	Tags        []string       `json:"tags"`
	Fields      map[string]any `json:"organization_fields"`
	Details     string         `json:"details"`
	Notes       string         `json:"notes"`
	DomainNames []string       `json:"domain_names"`
	CreatedAt   time.Time      `json:"created_at"`
	UpdatedAt   time.Time      `json:"updated_at"`
}

// AddOrg stores an organization as if it existed in Zendesk and returns its
// ID (o.ID is used when set). It panics on a duplicate name, as Zendesk
// refuses one.
func (s *Server) AddOrg(o syncer.Org) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.orgByName(o.Name) != nil {
		panic("zendesktest: duplicate organization name " + o.Name)
	}
	id := s.takeID(o.ID)
	now := s.now().UTC()
	rec := &org{ID: id, URL: s.apiURL("organizations", id), Name: o.Name, Tags: append([]string{}, o.Tags...),
		Fields: o.Fields.Map(), CreatedAt: now, UpdatedAt: now, DomainNames: []string{}}
	if o.ExternalID != "" {
		ext := o.ExternalID
		rec.ExternalID = &ext
	}
	if !o.UpdatedAt.IsZero() {
		rec.UpdatedAt = o.UpdatedAt
	}
	s.putOrg(rec)
	return id
}

// Orgs returns every organization, ordered by ID.
func (s *Server) Orgs() []syncer.Org {
	s.mu.Lock()
	defer s.mu.Unlock()
	return domains(s.sortedOrgIDs(), s.orgs, (*org).domain)
}

// OrgCount returns how many organizations exist.
func (s *Server) OrgCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.orgs)
}

// Org returns the organization with the given ID.
func (s *Server) Org(id int64) (syncer.Org, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orgs[id]
	if !ok {
		return syncer.Org{}, false
	}
	return o.domain(), true
}

func (o *org) domain() syncer.Org {
	d := syncer.Org{ID: o.ID, Name: o.Name, Tags: append([]string{}, o.Tags...), Fields: syncer.FieldsOf(o.Fields), UpdatedAt: o.UpdatedAt}
	if o.ExternalID != nil {
		d.ExternalID = *o.ExternalID
	}
	return d
}

func (s *Server) orgByName(name string) *org {
	if id, ok := s.orgByNameIdx[strings.ToLower(name)]; ok {
		return s.orgs[id]
	}
	return nil
}

// orgByExternalID returns the first (lowest ID) org with the external ID.
func (s *Server) orgByExternalID(ext string) *org {
	if ids := s.orgByExtIdx[ext]; len(ids) > 0 {
		return s.orgs[ids[0]]
	}
	return nil
}

// orgsByExternalID returns every org with the external ID, by ID.
func (s *Server) orgsByExternalID(ext string) []*org {
	var out []*org
	for _, id := range s.orgByExtIdx[ext] {
		out = append(out, s.orgs[id])
	}
	return out
}

// putOrg stores a new org and indexes it. The caller holds s.mu.
func (s *Server) putOrg(o *org) {
	s.orgs[o.ID] = o
	s.orgByNameIdx[strings.ToLower(o.Name)] = o.ID
	if o.ExternalID != nil {
		s.indexExt(*o.ExternalID, o.ID)
	}
	s.orgIDs = appendSorted(s.orgIDs, o.ID)
}

func (s *Server) indexExt(ext string, id int64) {
	ids := append(s.orgByExtIdx[ext], id)
	slices.Sort(ids)
	s.orgByExtIdx[ext] = ids
}

func (s *Server) unindexExt(ext string, id int64) {
	ids := slices.DeleteFunc(s.orgByExtIdx[ext], func(x int64) bool { return x == id })
	if len(ids) == 0 {
		delete(s.orgByExtIdx, ext)
	} else {
		s.orgByExtIdx[ext] = ids
	}
}

// renameOrg changes an org's name and its index entry. The caller holds s.mu.
func (s *Server) renameOrg(o *org, name string) {
	if s.orgByNameIdx[strings.ToLower(o.Name)] == o.ID {
		delete(s.orgByNameIdx, strings.ToLower(o.Name))
	}
	o.Name = name
	s.orgByNameIdx[strings.ToLower(name)] = o.ID
}

// setOrgExternalID changes an org's external ID and its index entry. The
// caller holds s.mu.
func (s *Server) setOrgExternalID(o *org, ext string) {
	if o.ExternalID != nil {
		s.unindexExt(*o.ExternalID, o.ID)
	}
	o.ExternalID = &ext
	s.indexExt(ext, o.ID)
}

// dropOrg deletes an org and its index entries. The caller holds s.mu.
func (s *Server) dropOrg(id int64) {
	o, ok := s.orgs[id]
	if !ok {
		return
	}
	delete(s.orgs, id)
	if s.orgByNameIdx[strings.ToLower(o.Name)] == id {
		delete(s.orgByNameIdx, strings.ToLower(o.Name))
	}
	if o.ExternalID != nil {
		s.unindexExt(*o.ExternalID, id)
	}
	if i, found := slices.BinarySearch(s.orgIDs, id); found {
		s.orgIDs = slices.Delete(s.orgIDs, i, i+1)
	}
}

// sortedOrgIDs returns the org IDs in order. The caller holds s.mu and
// must not modify the slice.
func (s *Server) sortedOrgIDs() []int64 {
	s.orgIDs = sortedKeys(s.orgIDs, s.orgs)
	return s.orgIDs
}

func (s *Server) showManyOrgs(w http.ResponseWriter, q url.Values) {
	out := []*org{}
	if v := q.Get("external_ids"); v != "" {
		exts := strings.Split(v, ",")
		if len(exts) > MaxJobItems {
			writeError(w, 400, "InvalidValue", fmt.Sprintf("at most %d external_ids", MaxJobItems))
			return
		}
		for _, ext := range exts {
			out = append(out, s.orgsByExternalID(ext)...)
		}
	} else {
		ids, ok := parseIDs(q.Get("ids"))
		if !ok || len(ids) > MaxJobItems {
			writeError(w, 400, "InvalidValue", "ids must be at most 100 numbers")
			return
		}
		for _, id := range ids {
			if o, ok := s.orgs[id]; ok {
				out = append(out, o)
			}
		}
	}
	writeJSON(w, 200, map[string]any{"organizations": out, "next_page": nil, "previous_page": nil, "count": len(out)})
}

func (s *Server) createOrg(idx int, item map[string]any, now time.Time) jobResult {
	fail := func(code, details string) jobResult {
		return jobResult{Index: &idx, Action: "create", Success: false, Error: code, Details: details}
	}
	name, _ := item["name"].(string)
	if strings.TrimSpace(name) == "" {
		return fail("InvalidValue", "Name: cannot be blank")
	}
	if s.orgByName(name) != nil {
		return fail("DuplicateValue", "Name: "+name+" has already been taken")
	}
	var extID *string
	if ext, _ := item["external_id"].(string); ext != "" {
		if s.orgByExternalID(ext) != nil {
			return fail("DuplicateValue", "External: "+ext+" has already been taken")
		}
		extID = &ext
	}
	o := &org{ID: s.newID(), Name: name, ExternalID: extID, Tags: []string{}, Fields: map[string]any{}, DomainNames: []string{}, CreatedAt: now, UpdatedAt: now}
	o.URL = s.apiURL("organizations", o.ID)
	if tags, ok := item["tags"]; ok {
		o.Tags = stringsOf(tags)
	}
	if f, ok := item["organization_fields"].(map[string]any); ok {
		o.Fields = copyMap(f)
	}
	s.putOrg(o)
	return jobResult{Index: &idx, ID: o.ID, Action: "create", Status: "Created", Success: true}
}

func (s *Server) updateOrg(item map[string]any, now time.Time) jobResult {
	id := intOf(item["id"])
	o, ok := s.orgs[id]
	if !ok {
		return jobResult{ID: id, Action: "update", Success: false, Error: "RecordNotFound", Details: fmt.Sprintf("Organization %d not found", id)}
	}
	if name, ok := item["name"].(string); ok {
		if strings.TrimSpace(name) == "" {
			return jobResult{ID: id, Action: "update", Success: false, Error: "InvalidValue", Details: "Name: cannot be blank"}
		}
		if other := s.orgByName(name); other != nil && other.ID != id {
			return jobResult{ID: id, Action: "update", Success: false, Error: "DuplicateValue", Details: "Name: " + name + " has already been taken"}
		}
		s.renameOrg(o, name)
	}
	if ext, ok := item["external_id"].(string); ok {
		s.setOrgExternalID(o, ext)
	}
	if tags, ok := item["tags"]; ok {
		o.Tags = stringsOf(tags)
	}
	if f, ok := item["organization_fields"].(map[string]any); ok {
		if o.Fields == nil {
			o.Fields = map[string]any{}
		}
		for k, v := range f {
			o.Fields[k] = v
		}
	}
	o.UpdatedAt = now
	return jobResult{ID: id, Action: "update", Status: "Updated", Success: true}
}
