package salesforce

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/url"
	"syscall"
	"testing"
	"time"

	"github.com/zdsync/zdsync/syncer"
)

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestClassify(t *testing.T) {
	synErr := json.Unmarshal([]byte("<html>503</html>"), new(any))
	tests := []struct {
		name string
		err  error
		want syncer.Code
	}{
		{"UNABLE_TO_LOCK_ROW is code 3", errors.New(`[{"message":"unable to obtain exclusive access to this record","errorCode":"UNABLE_TO_LOCK_ROW","fields":[]}]`), syncer.CodeUnableToLockRow},
		{"INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY is code 2", errors.New(`[{"message":"insufficient access rights on cross-reference id: 001","errorCode":"INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY","fields":[]}]`), syncer.CodeInsufficientAccess},
		{"INVALID_SESSION_ID after the re-login is code 9", errors.New(`[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]`), syncer.CodeAuthFailed},
		{"INVALID_AUTH_HEADER is code 9", errors.New(`[{"message":"bad header","errorCode":"INVALID_AUTH_HEADER"}]`), syncer.CodeAuthFailed},
		{"MALFORMED_QUERY is code 12", errors.New(`[{"message":"unexpected token","errorCode":"MALFORMED_QUERY"}]`), syncer.CodeAPIError},
		{"INVALID_FIELD is code 12", errors.New(`[{"message":"No such column","errorCode":"INVALID_FIELD"}]`), syncer.CodeAPIError},
		{"a lock among several errors wins over an unclassified one", errors.New(`[{"message":"x","errorCode":"FIELD_CUSTOM_VALIDATION_EXCEPTION"},{"message":"y","errorCode":"UNABLE_TO_LOCK_ROW"}]`), syncer.CodeUnableToLockRow},
		{"a refused token request is code 9", errors.New("400 Bad Request: failed authentication"), syncer.CodeAuthFailed},
		{"a network timeout is code 5", &url.Error{Op: "Get", URL: "http://x/services/data/v62.0/query/?q=SELECT", Err: timeoutErr{}}, syncer.CodeOpenTimeout},
		{"a refused connection is code 4", &url.Error{Op: "Get", URL: "http://x", Err: &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}}, syncer.CodeConnectionFailed},
		{"a reset connection is code 4", &url.Error{Op: "Post", URL: "http://x", Err: syscall.ECONNRESET}, syncer.CodeConnectionFailed},
		{"an EOF is code 4", &url.Error{Op: "Get", URL: "http://x", Err: io.EOF}, syncer.CodeConnectionFailed},
		{"a body cut short is code 4", io.ErrUnexpectedEOF, syncer.CodeConnectionFailed},
		{"an answer that is not JSON is code 10", synErr, syncer.CodeBadResponse},
		{"a 5xx page of Salesforce's edge is code 4", &url.Error{Op: "Get", URL: "http://x", Err: &unavailableError{status: 503}}, syncer.CodeConnectionFailed},
		{"an unknown error is code 12", errors.New("something else"), syncer.CodeAPIError},
		// Bodies as real orgs answer them (people posted them when their
		// automation broke), and what they mean.
		{"a lock met by a trigger's own DML is code 3", errors.New(`[{"message":"SMSTrigger: execution of AfterInsert\n\ncaused by: System.DmlException: Update failed. First exception on row 0 with id a0N0J00000OPSAVUA5; first error: CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY, dlrs_SMSTrigger: execution of AfterUpdate\n\ncaused by: System.DmlException: Upsert failed. First exception on row 2; first error: UNABLE_TO_LOCK_ROW, unable to obtain exclusive access to this record or 4 records: a2E0J000000i8bpUAA: []\n\nTrigger.SMSTrigger: line 559, column 1","errorCode":"CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY","fields":[]}]`), syncer.CodeUnableToLockRow},
		{"a lock met by a flow is code 3", errors.New(`[{"message":"The flow tried to update these records: 0015e00000AbCdEAAV. This error occurred: CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY: dlrs_SBQQ_SubscriptionTrigger: execution of AfterUpdate caused by: System.DmlException: Update failed. First exception on row 0 with id a1B5e000000XyZ1EAK; first error: UNABLE_TO_LOCK_ROW, unable to obtain exclusive access to this record: [] (dlrs) Trigger.dlrs_SBQQ_SubscriptionTrigger: line 7, column 1. You can look up ExceptionCode values in the SOAP API Developer Guide.","errorCode":"CANNOT_EXECUTE_FLOW_TRIGGER","fields":[]}]`), syncer.CodeUnableToLockRow},
		{"a cross-reference refusal caught by a trigger's addError is code 2", errors.New(`[{"message":"Insert failed. First exception on row 0; first error: INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY, insufficient access rights on cross-reference id: 0015e00000AbCdE: []","errorCode":"FIELD_CUSTOM_VALIDATION_EXCEPTION","fields":[]}]`), syncer.CodeInsufficientAccess},
		{"the innermost of several wrapped causes decides", errors.New(`[{"message":"first error: INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY wrapped around: first error: UNABLE_TO_LOCK_ROW, unable to obtain exclusive access to this record: []","errorCode":"CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY","fields":[]}]`), syncer.CodeUnableToLockRow},
		{"a trigger failing for another reason is code 12", errors.New(`[{"message":"CaseTrigger: execution of AfterInsert\n\ncaused by: System.DmlException: Upsert failed. First exception on row 0; first error: DUPLICATE_VALUE, duplicate value found: External_Id__c duplicates value on record with id: a0C1C00001hXzRt: []","errorCode":"CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY","fields":[]}]`), syncer.CodeAPIError},
		{"a cause named only inside a longer word does not count", errors.New(`[{"message":"value of X_UNABLE_TO_LOCK_ROW_COUNT__c is invalid","errorCode":"FIELD_CUSTOM_VALIDATION_EXCEPTION","fields":[]}]`), syncer.CodeAPIError},
		{"the daily allowance used up is code 6", errors.New(`[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]`), syncer.CodeRateLimited},
		{"too many long-running requests is code 6", errors.New(`[{"message":"ConcurrentPerOrgLongTxn Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]`), syncer.CodeRateLimited},
		{"a 429 is code 6", &url.Error{Op: "Get", URL: "http://x", Err: &rateLimitedError{retryAfter: time.Minute}}, syncer.CodeRateLimited},
		{"the REST API disabled for the org is a 403 but not code 9", errors.New(`[{"message":"The REST API is not enabled for this Organization.","errorCode":"API_DISABLED_FOR_ORG"}]`), syncer.CodeAPIError},
		{"the API disabled for the user is a 403 but not code 9", errors.New(`[{"message":"API is disabled for this User","errorCode":"API_CURRENTLY_DISABLED"}]`), syncer.CodeAPIError},
		{"a missing object permission is a 403 but not code 9", errors.New(`[{"message":"insufficient access rights on object id","errorCode":"INSUFFICIENT_ACCESS_OR_READONLY","fields":[]}]`), syncer.CodeAPIError},
		{"invalid_grant from the token endpoint is code 9", &url.Error{Op: "Post", URL: "http://x/services/oauth2/token", Err: &loginError{status: 400, code: "invalid_grant", description: "authentication failure"}}, syncer.CodeAuthFailed},
		{"an unknown connected app is code 9", &url.Error{Op: "Post", URL: "http://x/services/oauth2/token", Err: &loginError{status: 400, code: "invalid_client_id", description: "client identifier invalid"}}, syncer.CodeAuthFailed},
		{"a 401 from the token endpoint is code 9", &url.Error{Op: "Post", URL: "http://x/services/oauth2/token", Err: &loginError{status: 401}}, syncer.CodeAuthFailed},
		{"a token endpoint answering 503 is code 4", &url.Error{Op: "Post", URL: "http://x/services/oauth2/token", Err: &loginError{status: 503}}, syncer.CodeConnectionFailed},
		{"a token endpoint answering 429 is code 6", &url.Error{Op: "Post", URL: "http://x/services/oauth2/token", Err: &loginError{status: 429}}, syncer.CodeRateLimited},
		{"a session refused right after a new login is code 9", errSessionRefused, syncer.CodeAuthFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := classify("op", "rec", tt.err)
			if got := syncer.ErrorCode(err); got != tt.want {
				t.Errorf("code = %v, want %v (%v)", got, tt.want, err)
			}
		})
	}
}

func TestClassifiedMessageNamesTheSalesforceCode(t *testing.T) {
	err := classify("create case for ticket", "7", errors.New(`[{"message":"unable to obtain exclusive access to this record","errorCode":"UNABLE_TO_LOCK_ROW","fields":[]}]`))
	want := "create case for ticket 7: Salesforce UNABLE_TO_LOCK_ROW: unable to obtain exclusive access to this record (code 3: UnableToLockRow)"
	if err.Error() != want {
		t.Errorf("got  %q\nwant %q", err, want)
	}
	err = classify("q", "", &url.Error{Op: "Get", URL: "http://x/services/data/v62.0/query/?q=SELECT+secret", Err: timeoutErr{}})
	if got := syncer.ErrorMessage(err); got != "Salesforce did not answer in time: Get http://x/services/data/v62.0/query/" {
		t.Errorf("message = %q", got)
	}
}

func TestClassifiedLoginMessageNamesTheOAuthError(t *testing.T) {
	err := classify("salesforce login", "", &url.Error{Op: "Post", URL: "http://x/services/oauth2/token",
		Err: &loginError{status: 400, code: "invalid_grant", description: "authentication failure"}})
	want := "salesforce login: Salesforce refused the login (400 Bad Request: invalid_grant, authentication failure) (code 9: AuthFailed)"
	if err.Error() != want {
		t.Errorf("got  %q\nwant %q", err, want)
	}
}

func TestAllowanceDecoding(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		want   syncer.APIAllowance
		wantOK bool
	}{
		{"the documented answer", `{"ConcurrentSyncReportRuns":{"Max":20,"Remaining":20},"DailyApiRequests":{"Max":5000,"Remaining":4937},"DataStorageMB":{"Max":5,"Remaining":5}}`,
			syncer.APIAllowance{Max: 5000, Remaining: 4937}, true},
		{"numbers in strings, as the first versions sent them", `{"DailyApiRequests":{"Remaining":"4980","Max":"5000"}}`,
			syncer.APIAllowance{Max: 5000, Remaining: 4980}, true},
		{"per-app allowances inside the limit are ignored", `{"DailyApiRequests":{"Max":15000,"Remaining":14998,"Ant Migration Tool":{"Max":0,"Remaining":0}}}`,
			syncer.APIAllowance{Max: 15000, Remaining: 14998}, true},
		{"nothing remaining is an answer", `{"DailyApiRequests":{"Max":15000,"Remaining":0}}`,
			syncer.APIAllowance{Max: 15000, Remaining: 0}, true},
		{"no DailyApiRequests is a bad response", `{"DataStorageMB":{"Max":5,"Remaining":5}}`, syncer.APIAllowance{}, false},
		{"no Remaining is a bad response", `{"DailyApiRequests":{"Max":5000}}`, syncer.APIAllowance{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var l limitsAnswer
			if err := json.Unmarshal([]byte(tt.body), &l); err != nil {
				t.Fatal(err)
			}
			got, err := l.allowance()
			if (err == nil) != tt.wantOK || got != tt.want {
				t.Errorf("allowance = %+v, %v; want %+v (ok %v)", got, err, tt.want, tt.wantOK)
			}
			if err != nil && syncer.ErrorCode(err) != syncer.CodeBadResponse {
				t.Errorf("code %v, want BadResponse", syncer.ErrorCode(err))
			}
		})
	}
	var l limitsAnswer
	err := json.Unmarshal([]byte(`{"DailyApiRequests":{"Max":"lots","Remaining":1}}`), &l)
	if syncer.ErrorCode(classify("read", "", err)) != syncer.CodeBadResponse {
		t.Errorf("a value that is not a number: %v", classify("read", "", err))
	}
}
