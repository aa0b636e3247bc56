package syncer

import (
	"errors"
	"fmt"
)

// Code is a pipeline error code. Codes 1–5 are the ones documented for the
// original ZD-SFDC sync and keep their numbers, names and meanings; codes from
// 6 up are zdsync's own. Every code is described once, in Codes.
type Code int

// The pipeline error codes. See Codes for names, kinds and runbook text.
const (
	CodeNone               Code = 0
	CodeNoCaseID           Code = 1
	CodeInsufficientAccess Code = 2
	CodeUnableToLockRow    Code = 3
	CodeConnectionFailed   Code = 4
	CodeOpenTimeout        Code = 5
	CodeRateLimited        Code = 6
	CodeItemFailed         Code = 7
	CodeGuardRefused       Code = 8
	CodeAuthFailed         Code = 9
	CodeBadResponse        Code = 10
	CodePlanStale          Code = 11
	CodeAPIError           Code = 12
	CodeInternal           Code = 13
	CodeStale              Code = 14
)

// CodeInfo describes one pipeline error code: what it is called, whether it
// is silent (counted, exit 0, never alerted) or a failure, whether it is
// retried, and what the on-call engineer should do about it.
type CodeInfo struct {
	Code      Code
	Name      string
	Silent    bool
	Retryable bool
	Meaning   string
	Runbook   string
}

const retryRunbook = "Wait about 10 minutes and retry the run (or the push). If it fails the same way again, open an issue in the support-ops issue tracker and link the failed run ID."

// Codes is the one table of pipeline error codes. The README, the CLI,
// summaries and Slack alerts all render from it.
var Codes = []CodeInfo{
	{CodeNoCaseID, "No case ID to update", true, false,
		"A ticket was closed but its Salesforce case ID field is blank, so there is no case to update.",
		"Nothing to do: there was no case to update. This is counted and can be safely ignored."},
	{CodeInsufficientAccess, "InsufficientAccessOnCrossReferenceEntity", true, false,
		"Salesforce refused the parent reference of the case: in practice the Salesforce account does not exist.",
		"Nothing to do: the Salesforce account does not exist. This is counted and can be safely ignored."},
	{CodeUnableToLockRow, "UnableToLockRow", false, true,
		"Salesforce could not lock the case or its parent account because another lock conflicts.",
		retryRunbook},
	{CodeConnectionFailed, "ConnectionFailed", false, true,
		"The connection to the API could not be established (refused or reset).",
		retryRunbook},
	{CodeOpenTimeout, "OpenTimeout", false, true,
		"The API did not answer within the configured timeout (HTTP_TIMEOUT).",
		retryRunbook},
	{CodeRateLimited, "RateLimited", false, true,
		"The API kept answering 429 Too Many Requests after every wait it asked for.",
		"Another integration may be using the Zendesk rate limit. Check the API usage dashboard, wait for it to clear, then use Run again."},
	{CodeItemFailed, "ItemFailed", false, false,
		"The API rejected one record (a failing item in a bulk job, or a validation error); the other records were applied.",
		"Read the message for the record: usually data in Salesforce that Zendesk refuses (duplicate name, invalid e-mail). Fix the record in Salesforce; the next run retries it."},
	{CodeGuardRefused, "GuardRefused", false, false,
		"A safety guard refused the plan before anything was deleted (too many deletions, or the Salesforce result shrank sharply).",
		"Check that Salesforce returned the full account list (a partial outage or a changed query can shrink it). If the deletions are intended, approve them in Slack or raise the limit for one run."},
	{CodeAuthFailed, "AuthFailed", false, false,
		"Login to the API was refused: credentials are missing, wrong or expired.",
		"Check the credentials in the deployment's secret (never paste them in Slack); rotate them if they expired, then use Run again."},
	{CodeBadResponse, "BadResponse", false, true,
		"The API answered something zdsync could not understand (malformed JSON, unexpected shape).",
		retryRunbook},
	{CodePlanStale, "PlanStale", false, false,
		"A stored plan could not be applied to a record because it expired or the record changed since the preview.",
		"Make a new preview and apply that one."},
	{CodeAPIError, "APIError", false, false,
		"The API refused the request with an error zdsync does not classify further.",
		"Read the message: it names the request and the API's answer. If it persists, open an issue and link the failed run ID."},
	{CodeInternal, "Internal", false, false,
		"zdsync itself failed (a bug or a store error).",
		"Open an issue with the run ID; the logs of that run say more."},
	{CodeStale, "Stale", false, false,
		"A scheduled job has not succeeded for longer than FRESHNESS_MAX_AGE.",
		"Look at /zdsync status: if its runs fail, follow their alerts; if none ran, the scheduler is stuck — check the pods' /readyz and logs and restart the deployment."},
}

// Info returns the description of c, or a description of an unknown code.
func (c Code) Info() CodeInfo {
	for _, ci := range Codes {
		if ci.Code == c {
			return ci
		}
	}
	return CodeInfo{Code: c, Name: fmt.Sprintf("Unknown(%d)", int(c)), Runbook: "Open an issue with the run ID."}
}

// String returns "N: Name", the form used in alerts and summaries.
func (c Code) String() string { return fmt.Sprintf("%d: %s", int(c), c.Info().Name) }

// Silent reports whether the code is silent: counted, exit 0, never alerted.
func (c Code) Silent() bool { return c.Info().Silent }

// Retryable reports whether an operation that failed with c is retried.
func (c Code) Retryable() bool { return c.Info().Retryable }

// Error is an error carrying a pipeline code. Op names the operation and
// Record the record it concerned (an account ID, an e-mail, a ticket ID).
// Message is safe to show to users; Err, if set, holds internal detail.
type Error struct {
	Code    Code
	Op      string
	Record  string
	Message string
	Err     error
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	}
	s := ""
	if e.Op != "" {
		s = e.Op
		if e.Record != "" {
			s += " " + e.Record
		}
		s += ": "
	}
	return s + msg + " (code " + e.Code.String() + ")"
}

func (e *Error) Unwrap() error { return e.Err }

// ErrorCode returns the pipeline code of err, CodeNone for nil and
// CodeInternal for an error that carries no code.
func ErrorCode(err error) Code {
	if err == nil {
		return CodeNone
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// ErrorMessage returns the user-facing message of err.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) && e.Message != "" {
		return e.Message
	}
	return err.Error()
}
