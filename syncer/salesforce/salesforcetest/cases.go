package salesforcetest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// caseText are the Case's writable fields, all text, by API name: what a
// create or update may set, and what a query reads back (null when empty).
var caseText = map[string]func(*Case) *string{
	"Subject":               func(c *Case) *string { return &c.Subject },
	"Description":           func(c *Case) *string { return &c.Description },
	"Priority":              func(c *Case) *string { return &c.Priority },
	"Status":                func(c *Case) *string { return &c.Status },
	"Origin":                func(c *Case) *string { return &c.Origin },
	"AccountId":             func(c *Case) *string { return &c.AccountID },
	"SuppliedEmail":         func(c *Case) *string { return &c.SuppliedEmail },
	"SuppliedName":          func(c *Case) *string { return &c.SuppliedName },
	"Zendesk_Ticket_ID__c":  func(c *Case) *string { return &c.ZendeskTicketID },
	"Zendesk_Ticket_URL__c": func(c *Case) *string { return &c.ZendeskTicketURL },
}

// createResult is Salesforce's answer to an sObject create.
type createResult struct {
	ID      string     `json:"id"`
	Success bool       `json:"success"`
	Errors  []apiError `json:"errors"`
}

// takeCaseFailureLocked pops the next injected case-write failure.
func (s *Server) takeCaseFailureLocked() string {
	if len(s.caseFailures) == 0 {
		return ""
	}
	code := s.caseFailures[0]
	s.caseFailures = s.caseFailures[1:]
	return code
}

// failure returns the errorCode and message of an injected failure (an
// error code, or one of the wrapped failures) of a write that concerns
// the record id.
func failure(injected, id string) (code, message string) {
	wrapper, cause, wrapped := strings.Cut(injected, "/")
	if !wrapped {
		return injected, failureMessage(injected, id)
	}
	if id == "" {
		id = "001000000000000AAA" // the parent account the automation updated
	}
	inner := cause + ", " + failureMessage(cause, id) + ": []"
	switch wrapper {
	case "CANNOT_EXECUTE_FLOW_TRIGGER":
		// A record-triggered flow's fault, as Salesforce reports it.
		return wrapper, "We can't save this record because the \u201cCase After Save\u201d process failed. Give your Salesforce admin these details. " +
			"This error occurred when the flow tried to update records: " + cause + ": " + failureMessage(cause, id) +
			". You can look up ExceptionCode values in the SOAP API Developer Guide. Error ID: 1029384756-12345 (-1234567890)"
	default:
		// An Apex trigger's unhandled DmlException.
		return wrapper, "CaseTrigger: execution of AfterInsert\n\ncaused by: System.DmlException: Update failed. " +
			"First exception on row 0 with id " + id + "; first error: " + inner + "\n\nTrigger.CaseTrigger: line 12, column 1"
	}
}

func failureMessage(code, id string) string {
	switch code {
	case ErrUnableToLockRow:
		if id == "" {
			return "unable to obtain exclusive access to this record"
		}
		return "unable to obtain exclusive access to this record or 1 records: " + id
	case ErrInsufficientAccess:
		return "insufficient access rights on cross-reference id: " + short(id)
	}
	return "injected failure"
}

func short(id string) string {
	if len(id) > 15 {
		return id[:15]
	}
	return id
}

// decodeCaseBody reads a Case write: a JSON object of writable fields (the
// "attributes" go-salesforce adds is ignored), values as strings.
func decodeCaseBody(r *http.Request) (map[string]string, *apiError) {
	var raw map[string]any
	if err := json.NewDecoder(r.Body).Decode(&raw); err != nil {
		return nil, &apiError{Message: "Unexpected character in request body: " + err.Error(), ErrorCode: "JSON_PARSER_ERROR", Fields: []string{}}
	}
	delete(raw, "attributes")
	out := map[string]string{}
	for k, v := range raw {
		if _, ok := caseText[k]; !ok {
			return nil, &apiError{Message: fmt.Sprintf("No such column '%s' on sobject of type Case", k), ErrorCode: "INVALID_FIELD", Fields: []string{}}
		}
		switch v := v.(type) {
		case nil:
			out[k] = ""
		case string:
			out[k] = v
		case float64:
			out[k] = strconv.FormatFloat(v, 'f', -1, 64)
		default:
			return nil, &apiError{Message: fmt.Sprintf("Cannot deserialize instance of string from %T value for field %s", v, k), ErrorCode: "JSON_PARSER_ERROR", Fields: []string{k}}
		}
	}
	return out, nil
}

// accountExistsLocked reports whether id (15 or 18 characters) names a
// stored account.
func (s *Server) accountExistsLocked(id string) bool {
	_, ok := s.accounts[caseSafeIDOf(id)]
	return ok
}

// applyCaseFields sets the fields of a create or update.
func applyCaseFields(c *Case, f map[string]string) {
	for k, v := range f {
		if field, ok := caseText[k]; ok {
			*field(c) = v
		}
	}
}

func (s *Server) handleCaseCreate(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls.CaseCreate++
	fields, e := decodeCaseBody(r)
	if e != nil {
		writeJSON(w, http.StatusBadRequest, []apiError{*e})
		return
	}
	if f := s.takeCaseFailureLocked(); f != "" {
		code, msg := failure(f, fields["AccountId"])
		writeErrors(w, http.StatusBadRequest, code, msg)
		return
	}
	var missing []string
	for _, f := range s.requiredCaseFields {
		if fields[f] == "" {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		writeErrors(w, http.StatusBadRequest, "REQUIRED_FIELD_MISSING", fmt.Sprintf("Required fields are missing: %v", missing), missing...)
		return
	}
	if id := fields["AccountId"]; id != "" && !s.accountExistsLocked(id) {
		writeErrors(w, http.StatusBadRequest, ErrInsufficientAccess, failureMessage(ErrInsufficientAccess, id))
		return
	}
	var c Case
	applyCaseFields(&c, fields)
	if id := c.AccountID; id != "" {
		c.AccountID = caseSafeIDOf(id)
	}
	stored := s.storeCaseLocked(c)
	writeJSON(w, http.StatusCreated, createResult{ID: stored.ID, Success: true, Errors: []apiError{}})
}

func (s *Server) handleCaseUpdate(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls.CaseUpdate++
	c := s.caseByID[caseSafeIDOf(r.PathValue("id"))]
	if c == nil {
		writeErrors(w, http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
		return
	}
	fields, e := decodeCaseBody(r)
	if e != nil {
		writeJSON(w, http.StatusBadRequest, []apiError{*e})
		return
	}
	if f := s.takeCaseFailureLocked(); f != "" {
		code, msg := failure(f, c.ID)
		writeErrors(w, http.StatusBadRequest, code, msg)
		return
	}
	if id := fields["AccountId"]; id != "" && !s.accountExistsLocked(id) {
		writeErrors(w, http.StatusBadRequest, ErrInsufficientAccess, failureMessage(ErrInsufficientAccess, id))
		return
	}
	for _, f := range s.requiredCaseFields {
		if v, ok := fields[f]; ok && v == "" {
			writeErrors(w, http.StatusBadRequest, "REQUIRED_FIELD_MISSING", fmt.Sprintf("Required fields are missing: [%s]", f), f)
			return
		}
	}
	applyCaseFields(c, fields)
	w.WriteHeader(http.StatusNoContent)
}

// caseEpoch is the CreatedDate of the first case a fake creates; each later
// case is one second younger, so ORDER BY CreatedDate is creation order
// without reading the wall clock.
var caseEpoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// Cases returns copies of the cases created so far, oldest first.
func (s *Server) Cases() []Case {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Case, 0, len(s.cases))
	for _, c := range s.cases {
		out = append(out, *c)
	}
	return out
}

// AddCase stores a case as if it had been created earlier (for tests of
// FindCase and CaseStatuses); it assigns the ID, case number and created
// date when they are empty and returns the stored case.
func (s *Server) AddCase(c Case) Case {
	s.mu.Lock()
	defer s.mu.Unlock()
	return *s.storeCaseLocked(c)
}

func (s *Server) storeCaseLocked(c Case) *Case {
	n := len(s.cases) + 1
	if c.ID == "" {
		c.ID = makeID("500", 'C', 0, uint64(n))
	}
	if c.CaseNumber == "" {
		c.CaseNumber = fmt.Sprintf("%08d", n)
	}
	if c.CreatedDate.IsZero() {
		c.CreatedDate = caseEpoch.Add(time.Duration(n) * time.Second)
	}
	if c.Status == "" {
		c.Status = "New" // the Status picklist's default value
	}
	cp := &c
	s.cases = append(s.cases, cp)
	s.caseByID[c.ID] = cp
	return cp
}

// FailCaseWrites makes the next n case creates or updates fail with the
// given Salesforce error code (ErrUnableToLockRow, ErrInsufficientAccess or
// any other code) or wrapped failure (ErrTriggerUnableToLockRow, …), as
// Salesforce answers: HTTP 400 and [{"message":…,"errorCode":…,"fields":[]}].
func (s *Server) FailCaseWrites(n int, errorCode string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.caseFailures = append(s.caseFailures, errorCode)
	}
}

// answerCaseQuery answers the adapter's Case queries (small: never paged).
func (s *Server) answerCaseQuery(pq parsedQuery) queryPage {
	s.mu.Lock()
	var found []*Case
	switch pq.kind {
	case kindCaseByTicket:
		for _, c := range s.cases { // oldest first: ORDER BY CreatedDate
			if c.ZendeskTicketID != "" && c.ZendeskTicketID == pq.ticketID {
				found = append(found, c)
				break // LIMIT 1
			}
		}
	case kindCasesByID:
		for _, id := range pq.caseIDs {
			if c := s.caseByID[caseSafeIDOf(id)]; c != nil {
				found = append(found, c)
			}
		}
	}
	page := queryPage{TotalSize: len(found), Done: true, Records: []any{}}
	for _, c := range found {
		rec := map[string]any{"attributes": attrs("Case", c.ID)}
		for _, f := range pq.fields {
			rec[f] = caseField(c, f)
		}
		page.Records = append(page.Records, rec)
	}
	s.mu.Unlock()
	return page
}

// caseSafeIDOf returns the 18-character form of a 15- or 18-character ID.
func caseSafeIDOf(id string) string {
	if len(id) == 15 {
		return caseSafeID(id)
	}
	return id
}

// caseField is the value of the field f of c in a query answer.
func caseField(c *Case, f string) any {
	switch f {
	case "Id":
		return c.ID
	case "CaseNumber":
		return c.CaseNumber
	case "CreatedDate":
		return c.CreatedDate.UTC().Format("2006-01-02T15:04:05.000+0000")
	}
	if field, ok := caseText[f]; ok {
		return str(*field(c))
	}
	return nil
}
