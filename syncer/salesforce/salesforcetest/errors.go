package salesforcetest

import (
	"fmt"
	"net/http"
)

// The Salesforce error codes the fake answers with; the exported ones can
// be given to FailCaseWrites.
const (
	ErrUnableToLockRow     = "UNABLE_TO_LOCK_ROW"
	ErrInsufficientAccess  = "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY"
	errInvalidSession      = "INVALID_SESSION_ID"
	errMalformedQuery      = "MALFORMED_QUERY"
	errInvalidQueryLocator = "INVALID_QUERY_LOCATOR"
	errRequestLimit        = "REQUEST_LIMIT_EXCEEDED"
)

// Failures of case writes that automation in the org wraps: the error a
// trigger, flow or validation rule answers with, whose message carries the
// real cause. Give them to FailCaseWrites like an error code.
const (
	// ErrTriggerUnableToLockRow is an Apex trigger on Case whose own DML
	// met a lock: CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY, "…first error:
	// UNABLE_TO_LOCK_ROW, unable to obtain exclusive access to this
	// record: []…".
	ErrTriggerUnableToLockRow = "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY/" + ErrUnableToLockRow
	// ErrFlowUnableToLockRow is a record-triggered flow that met a lock:
	// CANNOT_EXECUTE_FLOW_TRIGGER, "…This error occurred when the flow
	// tried to update records: UNABLE_TO_LOCK_ROW: unable to obtain
	// exclusive access to this record…".
	ErrFlowUnableToLockRow = "CANNOT_EXECUTE_FLOW_TRIGGER/" + ErrUnableToLockRow
	// ErrTriggerInsufficientAccess is an Apex trigger on Case whose own
	// DML was refused a parent reference:
	// CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY, "…first error:
	// INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY, insufficient access
	// rights on cross-reference id: …".
	ErrTriggerInsufficientAccess = "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY/" + ErrInsufficientAccess
)

// apiError is one element of a Salesforce REST error body.
type apiError struct {
	Message   string   `json:"message"`
	ErrorCode string   `json:"errorCode"`
	Fields    []string `json:"fields"`
}

// errorBody is a Salesforce REST error body: a list of one error.
func errorBody(code, message string, fields ...string) []apiError {
	if fields == nil {
		fields = []string{}
	}
	return []apiError{{Message: message, ErrorCode: code, Fields: fields}}
}

// writeErrors answers status with an error body of one error.
func writeErrors(w http.ResponseWriter, status int, code, message string, fields ...string) {
	writeJSON(w, status, errorBody(code, message, fields...))
}

// writeHTML answers an HTML page with the given status and title.
func writeHTML(w http.ResponseWriter, status int, title string) {
	w.Header().Set("Content-Type", "text/html;charset=UTF-8")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, "<html><head><title>%d %s</title></head><body><h1>%s</h1></body></html>\n", status, title, title)
}
