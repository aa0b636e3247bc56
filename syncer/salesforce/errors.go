package salesforce

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
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
	// sfRequestLimitExceeded is the org's API allowance used up (the
	// rolling 24-hour total, or too many long-running requests at once),
	// answered with HTTP 403 (Salesforce Developer Limits and Allocations
	// Quick Reference, "API Request Limits and Allocations").
	sfRequestLimitExceeded = "REQUEST_LIMIT_EXCEEDED"
	failedAuthentication   = "failed authentication" // go-salesforce's text for a refused token request
)

// wrappedCauses are the errorCodes that keep their meaning when automation
// wraps them: a trigger, flow or validation rule that fails on a record it
// writes answers with its own code (CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY,
// CANNOT_EXECUTE_FLOW_TRIGGER, FIELD_CUSTOM_VALIDATION_EXCEPTION, …) and
// names the real cause in its message ("…first error: UNABLE_TO_LOCK_ROW,
// unable to obtain exclusive access to this record: []").
var wrappedCauses = []string{sfUnableToLockRow, sfInsufficientAccess}

// classify is the one place that turns a go-salesforce (or network, or
// context) error into a *syncer.Error with its pipeline code:
//
//   - a Salesforce error body (go-salesforce returns it as the error text),
//     by its errorCode: UNABLE_TO_LOCK_ROW → 3,
//     INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY → 2,
//     REQUEST_LIMIT_EXCEEDED → 6, INVALID_SESSION_ID / INVALID_AUTH_HEADER
//     → 9; any other errorCode by the last of UNABLE_TO_LOCK_ROW and
//     INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY its message names (the
//     innermost cause automation wrapped), else 12 (a 403 such as
//     API_DISABLED_FOR_ORG or INSUFFICIENT_ACCESS is not a login problem);
//   - a 429 → 6;
//   - a session refused again right after a new login → 9;
//   - a refused login: 5xx → 4, 429 → 6, any other status (invalid_grant,
//     invalid_client_id, …) → 9;
//   - a network error: timeout → 5, refused / reset / EOF → 4;
//   - a response that is not the JSON expected → 10.
//
// The message names the Salesforce errorCode and message, or the OAuth
// error; it never holds tokens or credentials (go-salesforce's errors do
// not carry them, and URLs lose their query string).
func classify(op, record string, err error) error {
	e := &syncer.Error{Op: op, Record: record, Err: err}
	var se *syncer.Error
	var le *loginError
	var rl *rateLimitedError
	var ua *unavailableError
	var ue *url.Error
	var synErr *json.SyntaxError
	var typErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		if se.Op == "" {
			se.Op, se.Record = op, record
		}
		return se
	case errors.As(err, &le):
		e.Err, e.Message = le, le.Error()
		switch {
		case le.status >= http.StatusInternalServerError:
			e.Code = syncer.CodeConnectionFailed
		case le.status == http.StatusTooManyRequests:
			e.Code = syncer.CodeRateLimited
		default:
			e.Code = syncer.CodeAuthFailed
		}
	case errors.As(err, &rl):
		e.Err, e.Code, e.Message = rl, syncer.CodeRateLimited, rl.Error()
	case errors.As(err, &ua):
		e.Err, e.Code, e.Message = ua, syncer.CodeConnectionFailed, ua.Error()
	case errors.Is(err, errSessionExpired), errors.Is(err, errSessionRefused):
		e.Err, e.Code, e.Message = nil, syncer.CodeAuthFailed, errSessionRefused.Error()
	case errors.Is(err, context.Canceled):
		e.Code, e.Message = syncer.CodeInternal, "canceled before Salesforce answered"
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
		e.Code, e.Message = syncer.CodeOpenTimeout, "deadline exceeded before Salesforce answered"
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
		e.Code, e.Message = syncer.CodeConnectionFailed, "connection to Salesforce failed: "+err.Error()
	case strings.HasSuffix(err.Error(), failedAuthentication):
		// "400 Bad Request: failed authentication", when the transport
		// did not see the token answer.
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

// resultErrorWith sets e's code from the first classified error of msgs
// and its message from all of them.
func resultErrorWith(e *syncer.Error, msgs []gosf.SalesforceErrorMessage) *syncer.Error {
	e.Code = syncer.CodeAPIError
	parts := make([]string, 0, len(msgs))
	for i, m := range msgs {
		code, cause := codeOf(m)
		name := m.ErrorCode
		if cause != "" {
			name = cause + " (wrapped in " + m.ErrorCode + ")"
		}
		parts = append(parts, "Salesforce "+name+": "+truncate(strings.Join(strings.Fields(m.Message), " "), 300))
		if i == 0 || e.Code == syncer.CodeAPIError {
			e.Code = code
		}
	}
	e.Message = strings.Join(parts, "; ")
	return e
}

// codeOf returns the pipeline code of one Salesforce error, and the wrapped
// errorCode that decided it when its own errorCode did not.
func codeOf(m gosf.SalesforceErrorMessage) (syncer.Code, string) {
	switch m.ErrorCode {
	case sfUnableToLockRow:
		return syncer.CodeUnableToLockRow, ""
	case sfInsufficientAccess:
		return syncer.CodeInsufficientAccess, ""
	case sfRequestLimitExceeded:
		return syncer.CodeRateLimited, ""
	case sfInvalidSessionID, sfInvalidAuthHeader:
		return syncer.CodeAuthFailed, ""
	}
	switch cause := innermostCause(m.Message); cause {
	case sfUnableToLockRow:
		return syncer.CodeUnableToLockRow, cause
	case sfInsufficientAccess:
		return syncer.CodeInsufficientAccess, cause
	}
	return syncer.CodeAPIError, ""
}

// innermostCause returns the one of wrappedCauses that msg names last, as
// a whole word ("" if none): automation nests its messages outside in, so
// the last one named is the innermost cause.
func innermostCause(msg string) string {
	cause, at := "", -1
	for _, code := range wrappedCauses {
		if i := lastWordIndex(msg, code); i > at {
			cause, at = code, i
		}
	}
	return cause
}

// lastWordIndex returns the index of the last occurrence of word in s that
// is not part of a longer identifier, or -1.
func lastWordIndex(s, word string) int {
	for end := len(s); end > 0; {
		i := strings.LastIndex(s[:end], word)
		if i < 0 {
			return -1
		}
		if !isIdentByte(s, i-1) && !isIdentByte(s, i+len(word)) {
			return i
		}
		end = i
	}
	return -1
}

// isIdentByte reports whether s[i] exists and can be part of an errorCode.
func isIdentByte(s string, i int) bool {
	if i < 0 || i >= len(s) {
		return false
	}
	b := s[i]
	return b == '_' || b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' || b >= '0' && b <= '9'
}

// redact drops the query string (a SOQL text) of a request URL.
func redact(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i]
	}
	return u
}
