package salesforce

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"strings"
	"syscall"

	gosf "github.com/k-capehart/go-salesforce/v2"

	"github.com/zdsync/zdsync/syncer"
)

// The Salesforce errorCode values the pipeline codes name.
const (
	sfUnableToLockRow    = "UNABLE_TO_LOCK_ROW"
	sfInsufficientAccess = "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY"
	sfInvalidSessionID   = "INVALID_SESSION_ID"
	sfInvalidAuthHeader  = "INVALID_AUTH_HEADER"
	failedAuthentication = "failed authentication" // go-salesforce's text for a refused token request
)

// classify is the one place that turns a go-salesforce (or network, or
// context) error into a *syncer.Error with its pipeline code:
//
//   - a Salesforce error body (go-salesforce returns it as the error text):
//     UNABLE_TO_LOCK_ROW → 3, INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY → 2,
//     INVALID_SESSION_ID / INVALID_AUTH_HEADER (the library's own re-login
//     already failed) → 9, anything else → 12;
//   - a refused login (token endpoint not 200) → 9;
//   - a network error: timeout → 5, refused / reset / EOF → 4;
//   - a response that is not the JSON expected → 10.
//
// The message names the Salesforce errorCode and message; it never holds
// tokens or credentials (go-salesforce's errors do not carry them, and URLs
// lose their query string).
func classify(op, record string, err error) error {
	e := &syncer.Error{Op: op, Record: record, Err: err}
	var se *syncer.Error
	var ue *url.Error
	var synErr *json.SyntaxError
	var typErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		if se.Op == "" {
			se.Op, se.Record = op, record
		}
		return se
	case errors.As(err, &ue):
		e.Err = ue.Err // the URL may hold a long query; keep only the cause
		if ue.Timeout() {
			e.Code = syncer.CodeOpenTimeout
			e.Message = "Salesforce did not answer in time: " + ue.Op + " " + redact(ue.URL)
		} else {
			e.Code = syncer.CodeConnectionFailed
			e.Message = "connection to Salesforce failed: " + ue.Op + " " + redact(ue.URL) + ": " + ue.Err.Error()
		}
	case errors.Is(err, context.DeadlineExceeded):
		e.Code, e.Message = syncer.CodeOpenTimeout, "deadline exceeded before calling Salesforce"
	case errors.Is(err, context.Canceled):
		e.Code, e.Message = syncer.CodeInternal, "canceled before calling Salesforce"
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
		e.Code, e.Message = syncer.CodeConnectionFailed, "connection to Salesforce failed: "+err.Error()
	case strings.HasSuffix(err.Error(), failedAuthentication):
		// "400 Bad Request: failed authentication": the body, which may
		// name the user, is not kept.
		e.Code, e.Message = syncer.CodeAuthFailed, "Salesforce refused the login ("+strings.TrimSuffix(err.Error(), ": "+failedAuthentication)+")"
	case errors.As(err, &synErr), errors.As(err, &typErr):
		e.Code, e.Message = syncer.CodeBadResponse, "Salesforce answered something that is not the JSON expected: "+err.Error()
	default:
		if msgs, ok := parseErrorBody(err.Error()); ok {
			return resultErrorWith(e, msgs)
		}
		e.Code, e.Message = syncer.CodeAPIError, truncate(err.Error(), 500)
	}
	return e
}

// parseErrorBody reads a Salesforce error body:
// [{"message":…,"errorCode":…,"fields":[…]}].
func parseErrorBody(body string) ([]gosf.SalesforceErrorMessage, bool) {
	body = strings.TrimSpace(body)
	if !strings.HasPrefix(body, "[") {
		return nil, false
	}
	var msgs []gosf.SalesforceErrorMessage
	if err := json.Unmarshal([]byte(body), &msgs); err != nil || len(msgs) == 0 {
		return nil, false
	}
	for _, m := range msgs {
		if m.ErrorCode == "" {
			return nil, false
		}
	}
	return msgs, true
}

// resultError is the error of a create answered with success:false.
func resultError(msgs []gosf.SalesforceErrorMessage) error {
	e := &syncer.Error{}
	if len(msgs) == 0 {
		e.Code, e.Message = syncer.CodeBadResponse, "Salesforce answered success:false without errors"
		return e
	}
	return resultErrorWith(e, msgs)
}

// resultErrorWith sets e's code from the first classified errorCode of msgs
// and its message from all of them.
func resultErrorWith(e *syncer.Error, msgs []gosf.SalesforceErrorMessage) *syncer.Error {
	e.Code = syncer.CodeAPIError
	parts := make([]string, 0, len(msgs))
	for i, m := range msgs {
		parts = append(parts, "Salesforce "+m.ErrorCode+": "+truncate(m.Message, 300))
		if i == 0 || e.Code == syncer.CodeAPIError {
			e.Code = codeOf(m.ErrorCode)
		}
	}
	e.Message = strings.Join(parts, "; ")
	return e
}

func codeOf(errorCode string) syncer.Code {
	switch errorCode {
	case sfUnableToLockRow:
		return syncer.CodeUnableToLockRow
	case sfInsufficientAccess:
		return syncer.CodeInsufficientAccess
	case sfInvalidSessionID, sfInvalidAuthHeader:
		return syncer.CodeAuthFailed
	}
	return syncer.CodeAPIError
}

// redact drops the query string (a SOQL text) of a request URL.
func redact(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i]
	}
	return u
}
