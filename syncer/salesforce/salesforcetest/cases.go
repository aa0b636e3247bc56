package salesforcetest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// writableCaseFields are the Case fields a create or update may set.
var writableCaseFields = map[string]bool{
	"Subject": true, "Description": true, "Priority": true, "Status": true, "Origin": true,
	"AccountId": true, "SuppliedEmail": true, "SuppliedName": true,
	"Zendesk_Ticket_ID__c": true, "Zendesk_Ticket_URL__c": true,
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
		if !writableCaseFields[k] {
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

func applyCaseFields(c *Case, f map[string]string) {
	for k, v := range f {
		switch k {
		case "Subject":
			c.Subject = v
		case "Description":
			c.Description = v
		case "Priority":
			c.Priority = v
		case "Status":
			c.Status = v
		case "Origin":
			c.Origin = v
		case "AccountId":
			c.AccountID = v
		case "SuppliedEmail":
			c.SuppliedEmail = v
		case "SuppliedName":
			c.SuppliedName = v
		case "Zendesk_Ticket_ID__c":
			c.ZendeskTicketID = v
		case "Zendesk_Ticket_URL__c":
			c.ZendeskTicketURL = v
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
