package salesforcetest

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// cursor is a query result being paged: a snapshot of the selected records
// taken when the query ran, as a Salesforce query locator is.
type cursor struct {
	kind     queryKind
	accounts []*Account
	contacts []contactRow
	rows     []any // kindModified: the records, rendered when the query ran
}

type contactRow struct {
	c *Contact
	a *Account
}

func (c *cursor) len() int {
	switch c.kind {
	case kindFederalContacts:
		return len(c.contacts)
	case kindModified:
		return len(c.rows)
	}
	return len(c.accounts)
}

// queryPage is the body of a query answer.
type queryPage struct {
	TotalSize      int    `json:"totalSize"`
	Done           bool   `json:"done"`
	NextRecordsURL string `json:"nextRecordsUrl,omitempty"`
	Records        []any  `json:"records"`
}

func (s *Server) handleQuery(w http.ResponseWriter, r *http.Request) { s.serveQuery(w, r, false) }

// handleQueryAll serves queryAll, which also returns deleted records
// (REST API Developer Guide, "QueryAll").
func (s *Server) handleQueryAll(w http.ResponseWriter, r *http.Request) { s.serveQuery(w, r, true) }

// serveQuery answers the first page of a query (all: as queryAll).
func (s *Server) serveQuery(w http.ResponseWriter, r *http.Request, all bool) {
	s.mu.Lock()
	s.calls.Query++
	s.mu.Unlock()
	status, body := s.answerQuery(r.URL.Query().Get("q"), all)
	writeJSON(w, status, body)
}

// answerQuery runs one SOQL query (all: as queryAll) and returns the HTTP
// status and body of its answer: the first page, or the error list.
func (s *Server) answerQuery(q string, all bool) (int, any) {
	if len(q) > MaxSOQLLength {
		return http.StatusBadRequest, errorBody(errMalformedQuery,
			fmt.Sprintf("SOQL statements can not be longer than %d characters", MaxSOQLLength))
	}
	pq, err := parseQuery(q)
	if err != nil {
		var qe *queryError
		if errors.As(err, &qe) {
			return http.StatusBadRequest, errorBody(qe.code, qe.message)
		}
		return http.StatusBadRequest, errorBody(errMalformedQuery, err.Error())
	}
	switch pq.kind {
	case kindCaseByTicket, kindCasesByID:
		return http.StatusOK, s.answerCaseQuery(pq)
	case kindAccountByID:
		return http.StatusOK, s.answerAccountByID(pq)
	}
	s.mu.Lock()
	cur := s.selectLocked(pq, all)
	if f := s.truncateNext; f > 0 && pq.kind != kindModified {
		s.truncateNext = 0
		n := int(float64(cur.len()) * f)
		if cur.kind == kindFederalContacts {
			cur.contacts = cur.contacts[:n]
		} else {
			cur.accounts = cur.accounts[:n]
		}
	}
	locator := ""
	if cur.len() > s.pageSize {
		s.seq++
		locator = makeID("01g", 'Q', 0, s.seq)
		s.cursors[locator] = cur
	}
	s.mu.Unlock()
	return http.StatusOK, s.page(cur, locator, 0)
}

func (s *Server) handleQueryMore(w http.ResponseWriter, r *http.Request) {
	loc, offStr, ok := strings.Cut(r.PathValue("locator"), "-")
	off, err := strconv.Atoi(offStr)
	s.mu.Lock()
	s.calls.QueryMore++
	cur := s.cursors[loc]
	child := s.children[loc]
	if cur != nil {
		// The parent's next page invalidates the child locators of the
		// page before it.
		for l, c := range s.children {
			if c.parent == loc {
				delete(s.children, l)
			}
		}
	}
	s.mu.Unlock()
	if child != nil && ok && err == nil && off > 0 && off < len(child.records) {
		s.writeChildPage(w, child, loc, off)
		return
	}
	if !ok || err != nil || cur == nil || off <= 0 || off >= cur.len() {
		writeErrors(w, http.StatusBadRequest, errInvalidQueryLocator, "invalid query locator")
		return
	}
	writeJSON(w, http.StatusOK, s.page(cur, loc, off))
}

// childCursor is the rest of a paged subquery result (WithSubqueryPageSize).
type childCursor struct {
	parent  string // locator of the parent query ("" when it has one page)
	records []any
}

// writeChildPage answers one page of a subquery result from offset off.
func (s *Server) writeChildPage(w http.ResponseWriter, c *childCursor, locator string, off int) {
	total := len(c.records)
	end := min(off+s.subPageSize, total)
	page := queryPage{TotalSize: total, Done: end >= total, Records: c.records[off:end]}
	if !page.Done {
		page.NextRecordsURL = dataPrefix + "/query/" + locator + "-" + strconv.Itoa(end)
	} else {
		s.mu.Lock()
		delete(s.children, locator)
		s.mu.Unlock()
	}
	writeJSON(w, http.StatusOK, page)
}

// page returns one page of cur from offset off. The last page has
// done:true and no nextRecordsUrl, and frees the locator; every other page
// has done:false and a nextRecordsUrl (never one without the other).
func (s *Server) page(cur *cursor, locator string, off int) queryPage {
	total := cur.len()
	end := min(off+s.pageSize, total)
	page := queryPage{TotalSize: total, Done: end >= total, Records: make([]any, 0, end-off)}
	if !page.Done {
		page.NextRecordsURL = dataPrefix + "/query/" + locator + "-" + strconv.Itoa(end)
	} else if locator != "" {
		s.mu.Lock()
		delete(s.cursors, locator)
		s.mu.Unlock()
	}
	p := childPager{s, locator}
	for i := off; i < end; i++ {
		switch cur.kind {
		case kindGlobalAccounts:
			page.Records = append(page.Records, renderGlobal(p, cur.accounts[i]))
		case kindFederalAccounts:
			page.Records = append(page.Records, renderFederal(p, cur.accounts[i]))
		case kindFederalContacts:
			page.Records = append(page.Records, renderContact(cur.contacts[i]))
		case kindModified:
			page.Records = append(page.Records, cur.rows[i])
		}
	}
	return page
}

// selectLocked evaluates the WHERE clause of a documented query (with its
// extra condition, if any) or of a query of changed records (all: with
// the deleted ones, as queryAll).
func (s *Server) selectLocked(pq parsedQuery, all bool) *cursor {
	cur := &cursor{kind: pq.kind}
	single := pq.filter.accounts
	switch pq.kind {
	case kindModified:
		cur.rows = s.modifiedLocked(pq.modified, all)
	case kindGlobalAccounts, kindFederalAccounts:
		match := MatchesGlobalQuery
		if pq.kind == kindFederalAccounts {
			match = MatchesFederalQuery
		}
		for _, id := range s.order {
			a := s.accounts[id]
			if match(a) && single(a) {
				cur.accounts = append(cur.accounts, a)
			}
		}
	case kindFederalContacts:
		for _, id := range s.contactOrder {
			c := s.contacts[id]
			a := s.accounts[c.AccountID]
			if MatchesFederalContactsQuery(c, a) && single(a) && pq.filter.contacts(c) {
				cur.contacts = append(cur.contacts, contactRow{c, a})
			}
		}
	}
	return cur
}

// Wire forms of the records, fields in SELECT order.

type attributes struct {
	Type string `json:"type"`
	URL  string `json:"url"`
}

func attrs(typ, id string) attributes {
	return attributes{Type: typ, URL: dataPrefix + "/sobjects/" + typ + "/" + id}
}

type subquery[T any] struct {
	TotalSize      int    `json:"totalSize"`
	Done           bool   `json:"done"`
	NextRecordsURL string `json:"nextRecordsUrl,omitempty"`
	Records        []T    `json:"records"`
}

// childPager pages the subquery results of one parent page.
type childPager struct {
	s      *Server
	parent string // locator of the parent query
}

// sub returns a subquery result, or nil (sent as null) when it is empty, as
// Salesforce does. With WithSubqueryPageSize it holds the first page only,
// done:false and a nextRecordsUrl for the rest.
func sub[T any](p childPager, records []T) *subquery[T] {
	if len(records) == 0 {
		return nil
	}
	q := &subquery[T]{TotalSize: len(records), Done: true, Records: records}
	n := p.s.subPageSize
	if n <= 0 || len(records) <= n {
		return q
	}
	all := make([]any, len(records))
	for i, r := range records {
		all[i] = r
	}
	p.s.mu.Lock()
	p.s.seq++
	loc := makeID("01g", 'Q', 0, p.s.seq)
	p.s.children[loc] = &childCursor{parent: p.parent, records: all}
	p.s.mu.Unlock()
	q.Done, q.Records = false, records[:n]
	q.NextRecordsURL = dataPrefix + "/query/" + loc + "-" + strconv.Itoa(n)
	return q
}

type wireCustomerSub struct {
	Attributes attributes `json:"attributes"`
	Status     any        `json:"Current_Subscription_Status__c"`
	EndDate    any        `json:"Current_Term_End_Date__c"`
	StartDate  any        `json:"Current_Term_Start_Date__c"`
	Seats      any        `json:"Entitled_Seats__c"`
	Tier       any        `json:"Product_Tier_Name_Short__c"`
	Plan       any        `json:"Plan_Name__c"`
}

type wireZuoraSub struct {
	Attributes      attributes `json:"attributes"`
	Name            any        `json:"Name"`
	Status          any        `json:"Zuora__Status__c"`
	EndDate         any        `json:"Zuora__SubscriptionEndDate__c"`
	StartDate       any        `json:"Zuora__SubscriptionStartDate__c"`
	SupportLevel    any        `json:"Support_Level__c"`
	OpportunityName any        `json:"Zuora__OpportunityName__c"`
	Number          any        `json:"Zuora__SubscriptionNumber__c"`
}

type wireSoldTo struct {
	Attributes attributes `json:"attributes"`
	Name       any        `json:"Name"`
	Email      any        `json:"Zuora__SoldToWorkEmail__c"`
}

type wireGlobalAccount struct {
	Attributes    attributes                 `json:"attributes"`
	ID            any                        `json:"Account_ID_18__c"`
	Name          any                        `json:"Name"`
	CARR          any                        `json:"CARR_This_Account__c"`
	Employees     any                        `json:"Ultimate_Parent_Sales_Segment_Employees__c"`
	Owner         any                        `json:"Account_Owner_Calc__c"`
	Licenses      any                        `json:"Number_of_Licenses_This_Account__c"`
	Type          any                        `json:"Type"`
	TAM           any                        `json:"Technical_Account_Manager_Name__c"`
	Geo           any                        `json:"Account_Demographics_Geo__c"`
	HealthScore   any                        `json:"GS_Health_Score_Color__c"`
	NextRenewal   any                        `json:"Next_Renewal_Date__c"`
	Restricted    any                        `json:"Restricted_Account__c"`
	PartnerStatus any                        `json:"Partners_Partner_Status__c"`
	PartnerType   any                        `json:"Partners_Partner_Type__c"`
	PartnerTrack  any                        `json:"Partner_Track__c"`
	CustomerSubs  *subquery[wireCustomerSub] `json:"Customer_Subscriptions__r"`
	ZuoraSubs     *subquery[wireZuoraSub]    `json:"Zuora__Subscriptions__r"`
	SoldTo        *subquery[wireSoldTo]      `json:"Zuora__R00N40000001kyLcEAI__r"`
}

type wireUser struct {
	Attributes attributes `json:"attributes"`
	Name       any        `json:"Name"`
}

type wireFederalAccount struct {
	Attributes   attributes                 `json:"attributes"`
	ID           any                        `json:"Account_ID_18__c"`
	Name         any                        `json:"Name"`
	CARR         any                        `json:"CARR_This_Account__c"`
	Employees    any                        `json:"Ultimate_Parent_Sales_Segment_Employees__c"`
	Owner        any                        `json:"Account_Owner_Calc__c"`
	Licenses     any                        `json:"Number_of_Licenses_This_Account__c"`
	Type         any                        `json:"Type"`
	TAM          any                        `json:"Technical_Account_Manager_Name__c"`
	HealthScore  any                        `json:"GS_Health_Score_Color__c"`
	NextRenewal  any                        `json:"Next_Renewal_Date__c"`
	Restricted   any                        `json:"Restricted_Account__c"`
	Architect    *wireUser                  `json:"Solutions_Architect_Lookup__r"`
	CustomerSubs *subquery[wireCustomerSub] `json:"Customer_Subscriptions__r"`
	ZuoraSubs    *subquery[wireZuoraSub]    `json:"Zuora__Subscriptions__r"`
	SoldTo       *subquery[wireSoldTo]      `json:"Zuora__R00N40000001kyLcEAI__r"`
}

type wireContactAccount struct {
	Attributes attributes `json:"attributes"`
	ID         any        `json:"Account_ID_18__c"`
	Name       any        `json:"Name"`
}

type wireContact struct {
	Attributes attributes          `json:"attributes"`
	Name       any                 `json:"Name"`
	Email      any                 `json:"Email"`
	Account    *wireContactAccount `json:"Account"`
	Inactive   bool                `json:"Inactive_Contact__c"`
}

// str sends an empty string as null.
func str(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// childID makes a stable 18-character ID for the i-th child of a record.
func childID(prefix, parent string, i int) string {
	p := (parent + "000000000000000000")[4:13]
	b := []byte(prefix + p)
	return caseSafeID(string(appendBase62(b, uint64(i), 3)))
}

func renderSubs(p childPager, a *Account) (*subquery[wireCustomerSub], *subquery[wireZuoraSub], *subquery[wireSoldTo]) {
	var cs []wireCustomerSub
	for _, x := range a.CustomerSubscriptions {
		if eq(x.Status, "Active") {
			cs = append(cs, wireCustomerSub{attrs(objCustomerSubscription, x.ID),
				str(x.Status), x.EndDate, x.StartDate, x.Seats, x.Tier, x.Plan})
		}
	}
	var zs []wireZuoraSub
	for _, x := range a.ZuoraSubscriptions {
		if eq(x.Status, "Active") {
			zs = append(zs, wireZuoraSub{attrs(objZuoraSubscription, x.ID),
				str(x.Name), str(x.Status), x.EndDate, x.StartDate, x.SupportLevel, x.OpportunityName, x.Number})
		}
	}
	var st []wireSoldTo
	for _, x := range a.SoldTo {
		if !x.IsDeleted {
			st = append(st, wireSoldTo{attrs(objSoldTo, x.ID), str(x.Name), x.Email})
		}
	}
	return sub(p, cs), sub(p, zs), sub(p, st)
}

func renderGlobal(p childPager, a *Account) wireGlobalAccount {
	cs, zs, st := renderSubs(p, a)
	return wireGlobalAccount{
		Attributes: attrs("Account", a.ID), ID: str(a.ID), Name: str(a.Name),
		CARR: a.CARR, Employees: a.Employees, Owner: a.Owner, Licenses: a.Licenses,
		Type: str(a.Type), TAM: a.TAM, Geo: a.Geo, HealthScore: a.HealthScore,
		NextRenewal: a.NextRenewalDate, Restricted: a.Restricted,
		PartnerStatus: str(a.PartnerStatus), PartnerType: str(a.PartnerType), PartnerTrack: str(a.PartnerTrack),
		CustomerSubs: cs, ZuoraSubs: zs, SoldTo: st,
	}
}

func renderFederal(p childPager, a *Account) wireFederalAccount {
	cs, zs, st := renderSubs(p, a)
	var sa *wireUser
	if a.SolutionsArchitect != "" {
		sa = &wireUser{attrs("User", childID("005", a.ID, 0)), a.SolutionsArchitect}
	}
	return wireFederalAccount{
		Attributes: attrs("Account", a.ID), ID: str(a.ID), Name: str(a.Name),
		CARR: a.CARR, Employees: a.Employees, Owner: a.Owner, Licenses: a.Licenses,
		Type: str(a.Type), TAM: a.TAM, HealthScore: a.HealthScore,
		NextRenewal: a.NextRenewalDate, Restricted: a.Restricted, Architect: sa,
		CustomerSubs: cs, ZuoraSubs: zs, SoldTo: st,
	}
}

func renderContact(row contactRow) wireContact {
	c, a := row.c, row.a
	acc := &wireContactAccount{Attributes: attrs("Account", a.ID), ID: str(a.ID), Name: str(a.Name)}
	if c.BlankAccountID {
		acc.ID = nil
	}
	return wireContact{Attributes: attrs("Contact", c.ID), Name: str(c.Name), Email: str(c.Email), Account: acc, Inactive: c.Inactive}
}

// TruncateNextQuery makes the next account or contact query return only the
// first fraction (0 < fraction < 1) of the records it selects, reported as
// the complete result (done:true, totalSize of the shortened list): a
// silently partial answer.
func (s *Server) TruncateNextQuery(fraction float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.truncateNext = fraction
}
