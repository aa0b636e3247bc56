package salesforce

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/url"
	"syscall"
	"testing"

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
		{"an HTML error page is code 10", synErr, syncer.CodeBadResponse},
		{"an unknown error is code 12", errors.New("something else"), syncer.CodeAPIError},
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
