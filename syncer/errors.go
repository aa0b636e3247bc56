package syncer

import (
	"errors"
	"fmt"
)

// Code is a pipeline error code. Codes 1–5 are the ones documented for the
// original ZD-SFDC sync and keep their numbers, names and meanings; codes from
// 6 up are zdsync's own. Every code is described once, in Codes, which the
// README's table of codes is generated from.
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
	CodeNotPermitted       Code = 15

	CodeRunInProgress Code = 16
	CodeInvalidInput  Code = 17
	CodeNotFound      Code = 18
	CodeAPIReserve    Code = 19

	CodeAlreadyUndone Code = 23
	CodeBehind        Code = 26
)

// CodeInfo describes one pipeline error code: what it is called, whether it
// is silent (counted, exit 0, never alerted) or a failure, whether and how
// it is retried, and what the on-call engineer should do about it.
type CodeInfo struct {
	Code    Code
	Name    string
	Silent  bool
	Retry   Retry
	Meaning string
	Runbook string
}

// Retry says whether an operation that failed with a code is tried again,
// and when: the one rule behind every retry of zdsync (the case push's
// CASE_PUSH_RETRIES, the push queue's later retry).
type Retry int

// The retry policies of the codes.
const (
	// NoRetry: the failure is reported; a person or the next run retries.
	NoRetry Retry = iota
	// RetrySoon: retried at once, CASE_PUSH_RETRIES times
	// CASE_PUSH_RETRY_DELAY apart, then reported.
	RetrySoon
	// RetryLater: the limit is the API's, so retrying soon would hit it
	// again; a queued case push goes back to the queue with a growing
	// delay instead of failing.
	RetryLater
)

const retryRunbook = "Wait about 10 minutes and retry the run (or the push). If it fails the same way again, open an issue in the support-ops issue tracker and link the failed run ID."

// Codes is the one table of pipeline error codes. The README, the CLI,
// summaries and Slack alerts all render from it.
var Codes = []CodeInfo{
	{CodeNoCaseID, "No case ID to update", true, NoRetry,
		"A ticket was closed but its Salesforce case ID field is blank, so there is no case to update.",
		"Nothing to do: there was no case to update. This is counted and can be safely ignored."},
	{CodeInsufficientAccess, "InsufficientAccessOnCrossReferenceEntity", true, NoRetry,
		"Salesforce refused the parent reference of the case: in practice the Salesforce account does not exist.",
		"Nothing to do: the Salesforce account does not exist. This is counted and can be safely ignored."},
	{CodeUnableToLockRow, "UnableToLockRow", false, RetrySoon,
		"Salesforce could not lock the case or its parent account because another lock conflicts.",
		retryRunbook},
	{CodeConnectionFailed, "ConnectionFailed", false, RetrySoon,
		"The connection to the API could not be established (refused or reset), or Salesforce answered an outage or maintenance page (a 5xx that is not the API's JSON).",
		retryRunbook},
	{CodeOpenTimeout, "OpenTimeout", false, RetrySoon,
		"The API did not answer within the configured timeout (HTTP_TIMEOUT).",
		retryRunbook},
	{CodeRateLimited, "RateLimited", false, RetryLater,
		"The API kept answering 429 Too Many Requests after every wait it asked for, or Salesforce's daily API allowance is used up (REQUEST_LIMIT_EXCEEDED).",
		"Another integration may be using the API's limit (Zendesk's rate limit, or Salesforce's daily allowance). Check the API usage dashboard (Zendesk Admin Center, Salesforce Setup → System Overview) and wait for it to clear; queued case pushes are retried by themselves, a job needs Run again."},
	{CodeItemFailed, "ItemFailed", false, NoRetry,
		"The API rejected one record (a failing item in a bulk job, or a validation error); the other records were applied.",
		"Read the message for the record: usually data in Salesforce that Zendesk refuses (duplicate name, invalid e-mail). Fix the record in Salesforce; the next run retries it."},
	{CodeGuardRefused, "GuardRefused", false, NoRetry,
		"A safety guard refused the plan before anything was deleted (too many deletions, or the Salesforce result shrank sharply).",
		"Check that Salesforce returned the full account list (a partial outage or a changed query can shrink it). If the deletions are intended, approve them in Slack or raise the limit for one run."},
	{CodeAuthFailed, "AuthFailed", false, NoRetry,
		"Login to the API was refused: credentials are missing, wrong or expired.",
		"Check the credentials in the deployment's secret (never paste them in Slack); rotate them if they expired, then use Run again."},
	{CodeBadResponse, "BadResponse", false, RetrySoon,
		"The API answered something zdsync could not understand (malformed JSON, unexpected shape).",
		retryRunbook},
	{CodePlanStale, "PlanStale", false, NoRetry,
		"A stored plan could not be applied to a record because it expired or the record changed since the preview.",
		"Make a new preview and apply that one."},
	{CodeAPIError, "APIError", false, NoRetry,
		"The API refused the request with an error zdsync does not classify further.",
		"Read the message: it names the request and the API's answer. If it persists, open an issue and link the failed run ID."},
	{CodeInternal, "Internal", false, NoRetry,
		"zdsync itself failed (a bug or a store error).",
		"Open an issue with the run ID; the logs of that run say more."},
	{CodeStale, "Stale", false, NoRetry,
		"A scheduled job has not succeeded for longer than FRESHNESS_MAX_AGE.",
		"Look at /zdsync status: if its runs fail, follow their alerts; if none ran, the scheduler is stuck — check the pods' /readyz and logs and restart the deployment."},
	{CodeNotPermitted, "NotPermitted", false, NoRetry,
		"Zendesk refused the request (403 Forbidden): the account lacks a feature or the API token's agent lacks a permission. The message carries Zendesk's reason.",
		"Enable what the message names in Zendesk Admin Center (README, \"Zendesk account settings\"): an admin as the API token's agent, the custom organization fields and the case-ID ticket field zdsync writes; for users/create_many and create_or_update_many, bulk user imports, which Zendesk Customer Support enables on request (until then zdsync creates users one at a time). Then use Run again."},

	{CodeRunInProgress, "RunInProgress", false, NoRetry,
		"Another run of the same job is in progress, on this replica or another: a job runs at most once at a time.",
		"Nothing is wrong: wait for that run to finish (/zdsync status shows it), then run again if it is still needed."},
	{CodeInvalidInput, "InvalidInput", false, NoRetry,
		"A value given to zdsync is not valid (a malformed or mistyped Salesforce ID, an unknown job or event); nothing was changed.",
		"Correct the value and try again."},
	{CodeNotFound, "NotFound", false, NoRetry,
		"A record zdsync was asked to read does not exist.",
		"Check the ID; if it is right, the record was deleted."},
	{CodeAPIReserve, "APIReserve", false, NoRetry,
		"Salesforce's remaining daily API allowance is below SALESFORCE_API_RESERVE, so a scheduled run (full or incremental) was skipped to leave the rest to the org's other integrations.",
		"Nothing to do if it clears: scheduled runs go on once the rolling 24-hour allowance recovers, and resolve this alert. Salesforce Setup → System Overview shows the API usage; raise the org's allowance or lower SALESFORCE_API_RESERVE if the sync is needed sooner."},

	{CodeAlreadyUndone, "AlreadyUndone", false, NoRetry,
		"The run (or this record of it) was already undone by another run; an undo is never applied twice.",
		"Nothing was changed. To put the run's changes back, undo the undo run instead (/zdsync history <run-id> names it)."},
	{CodeBehind, "Behind", false, NoRetry,
		"A job's incremental runs have not carried Salesforce's changes over for longer than INCREMENTAL_MAX_AGE, and no full run has since: Zendesk may lag behind Salesforce by that much.",
		"Look at /zdsync status: if the job's incremental runs fail, follow their alert; if a long full run holds the job, wait for it; if none ran, check SCHEDULE_INCREMENTAL and the pods' /readyz and logs. The hourly full run still carries every change over, and resolves this alert."},
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

// Retryable reports whether an operation that failed with c is retried,
// soon or later (see Retry).
func (c Code) Retryable() bool { return c.Info().Retry != NoRetry }

// RetryLater reports whether an operation that failed with c is retried
// later rather than soon: the case push leaves it to the push queue.
func (c Code) RetryLater() bool { return c.Info().Retry == RetryLater }

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

// Error renders the error for logs and messages: "op record: message
// (code N)".
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

// Unwrap returns the error's internal detail.
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

// WithOp names the operation and the record in an error's message ("create
// case for ticket 12: …"), keeping its code; an error without one is
// CodeInternal. It is how every layer adds what it was doing.
func WithOp(err error, op, record string) error {
	if err == nil {
		return nil
	}
	prefix := op
	if record != "" {
		prefix += " " + record
	}
	var e *Error
	if errors.As(err, &e) {
		msg := e.Message
		if msg == "" && e.Err != nil {
			msg = e.Err.Error()
		}
		if msg == "" {
			msg = e.Code.Info().Meaning
		}
		return &Error{Code: e.Code, Message: prefix + ": " + msg, Err: err}
	}
	return &Error{Code: CodeInternal, Message: prefix + ": " + err.Error(), Err: err}
}

// Clip shortens s to at most n runes and an ellipsis, for echoing input
// in errors and messages.
func Clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
