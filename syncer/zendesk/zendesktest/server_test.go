package zendesktest_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/zdsync/zdsync/syncer/zendesk/zendesktest"
)

// do sends a request and returns the answer, whose body is read and
// closed.
func do(t *testing.T, s *zendesktest.Server, method, path string, body any) *http.Response {
	t.Helper()
	resp, _ := doBody(t, s, method, path, body)
	return resp
}

func TestServerEnforcesDocumentedLimits(t *testing.T) {
	s := zendesktest.NewServer()
	defer s.Close()
	orgs := make([]map[string]any, 101)
	for i := range orgs {
		orgs[i] = map[string]any{"name": fmt.Sprint(i)}
	}
	if r := do(t, s, "POST", "/organizations/create_many.json", map[string]any{"organizations": orgs}); r.StatusCode != 400 {
		t.Fatalf("101 records: %d", r.StatusCode)
	}
	if r := do(t, s, "GET", "/organizations.json?page[size]=101", nil); r.StatusCode != 400 {
		t.Fatalf("page size 101: %d", r.StatusCode)
	}
	if r := do(t, s, "GET", "/organizations.json?page[size]=100&junk=1", nil); r.StatusCode != 200 || r.Header.Get("X-Rate-Limit-Remaining") == "" {
		t.Fatalf("list: %d %v", r.StatusCode, r.Header)
	}
	if s.WriteCalls() != 1 || s.TotalCalls() != 3 {
		t.Fatalf("calls %v", s.Calls())
	}
}

func TestServerRateLimitUsesItsClock(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	s := zendesktest.NewServer(zendesktest.WithRateLimit(2), zendesktest.WithClock(func() time.Time { return now }))
	defer s.Close()
	do(t, s, "GET", "/organizations.json", nil)
	do(t, s, "GET", "/organizations.json", nil)
	r := do(t, s, "GET", "/organizations.json", nil)
	if r.StatusCode != 429 || r.Header.Get("Retry-After") != "60" {
		t.Fatalf("third request: %d Retry-After %q", r.StatusCode, r.Header.Get("Retry-After"))
	}
	now = now.Add(time.Minute)
	if r := do(t, s, "GET", "/organizations.json", nil); r.StatusCode != 200 {
		t.Fatalf("next window: %d", r.StatusCode)
	}
}

func TestSignWebhookSignsTimestampAndBody(t *testing.T) {
	body := []byte(`{"ticket_id":"1","event":"created"}`)
	ts := time.Date(2025, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))
	req, err := zendesktest.NewWebhookRequest("http://example.com/webhooks/zendesk", "s3cret", body, ts)
	if err != nil {
		t.Fatal(err)
	}
	stamp := req.Header.Get(zendesktest.SignatureTimestampHeader)
	if stamp != "2025-01-02T02:04:05Z" {
		t.Fatalf("timestamp %q", stamp)
	}
	m := hmac.New(sha256.New, []byte("s3cret"))
	m.Write([]byte(stamp))
	m.Write(body)
	if got := req.Header.Get(zendesktest.SignatureHeader); got != base64.StdEncoding.EncodeToString(m.Sum(nil)) {
		t.Fatalf("signature %q", got)
	}
}

// doBody sends a request and returns the answer and its body.
func doBody(t *testing.T, s *zendesktest.Server, method, path string, body any) (*http.Response, string) {
	t.Helper()
	var b []byte
	if body != nil {
		b, _ = json.Marshal(body)
	}
	req, _ := http.NewRequest(method, s.URL()+"/api/v2"+path, bytes.NewReader(b))
	req.SetBasicAuth(zendesktest.DefaultEmail+"/token", zendesktest.DefaultToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp, string(out)
}

// send sends a request and returns its status, headers and body.
func send(t *testing.T, s *zendesktest.Server, method, path string, body any) (int, http.Header, string) {
	t.Helper()
	resp, b := doBody(t, s, method, path, body)
	return resp.StatusCode, resp.Header, b
}

func TestServerTokenBucketAllowsSmallBurstsOnly(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	s := zendesktest.NewServer(zendesktest.WithTokenBucket(600, 2), zendesktest.WithClock(func() time.Time { return now }))
	defer s.Close()
	for i := range 2 {
		if st, h, _ := send(t, s, "GET", "/organizations.json", nil); st != 200 || h.Get("X-Rate-Limit") != "600" {
			t.Fatalf("request %d of the burst: %d %v", i, st, h)
		}
	}
	st, h, _ := send(t, s, "GET", "/organizations.json", nil)
	if st != 429 || h.Get("Retry-After") != "1" || h.Get("X-Rate-Limit-Remaining") != "597" {
		t.Fatalf("past the burst: %d Retry-After %q remaining %q", st, h.Get("Retry-After"), h.Get("X-Rate-Limit-Remaining"))
	}
	now = now.Add(100 * time.Millisecond) // 600 a minute: one token
	if st, _, _ := send(t, s, "GET", "/organizations.json", nil); st != 200 {
		t.Fatalf("after one token's time: %d", st)
	}
	if st, _, _ := send(t, s, "GET", "/organizations.json", nil); st != 429 {
		t.Fatalf("a second request in that time: %d", st)
	}
}

func TestServerExportHasItsOwnLimit(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	s := zendesktest.NewServer(zendesktest.WithExportRateLimit(zendesktest.ExportRequestsPerMinute), zendesktest.WithClock(func() time.Time { return now }))
	defer s.Close()
	for range zendesktest.ExportRequestsPerMinute {
		if st, _, _ := send(t, s, "GET", "/incremental/tickets/cursor.json?start_time=0", nil); st != 200 {
			t.Fatalf("export within its limit: %d", st)
		}
	}
	if st, h, _ := send(t, s, "GET", "/incremental/tickets/cursor.json?start_time=0", nil); st != 429 || h.Get("Retry-After") != "60" {
		t.Fatalf("export past its limit: %d %v", st, h)
	}
	if st, _, _ := send(t, s, "GET", "/organizations.json", nil); st != 200 {
		t.Fatalf("another endpoint: %d", st)
	}
}

func TestServerLimitsQueuedJobs(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	s := zendesktest.NewServer(zendesktest.WithJobDelay(time.Minute), zendesktest.WithClock(func() time.Time { return now }))
	defer s.Close()
	body := map[string]any{"organizations": []map[string]any{{"name": "x"}}}
	for i := range zendesktest.MaxQueuedJobs {
		body["organizations"] = []map[string]any{{"name": fmt.Sprint("org ", i)}}
		if st, _, b := send(t, s, "POST", "/organizations/create_many.json", body); st != 200 {
			t.Fatalf("job %d: %d %s", i, st, b)
		}
	}
	st, h, b := send(t, s, "POST", "/organizations/create_many.json", body)
	if st != 429 || h.Get("Retry-After") == "" || !strings.Contains(b, "TooManyJobs") {
		t.Fatalf("job over the limit: %d %v %s", st, h, b)
	}
	now = now.Add(time.Minute) // the queued jobs have run
	if st, _, b := send(t, s, "POST", "/organizations/create_many.json", body); st != 200 {
		t.Fatalf("once the jobs ran: %d %s", st, b)
	}
}

func TestServerWritesJobStatusesInZendesksShapes(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	s := zendesktest.NewServer(zendesktest.WithJobDelay(time.Second), zendesktest.WithClock(func() time.Time { return now }))
	defer s.Close()
	s.SetJobShape(zendesktest.RealJobShape())
	s.FailItems(func(_ string, item map[string]any) bool { return item["name"] == "bad" })
	orgs := []map[string]any{{"name": "a"}, {"name": "bad"}, {"name": "b"}, {"name": "c"}}
	_, _, b := send(t, s, "POST", "/organizations/create_many.json", map[string]any{"organizations": orgs})
	if !strings.Contains(b, `"total":null`) || !strings.Contains(b, `"progress":null`) || !strings.Contains(b, `"results":null`) {
		t.Fatalf("a queued job: %s", b)
	}
	var queued struct {
		JobStatus struct{ ID string } `json:"job_status"`
	}
	_ = json.Unmarshal([]byte(b), &queued)
	now = now.Add(time.Second)
	_, _, b = send(t, s, "GET", "/job_statuses/"+queued.JobStatus.ID+".json", nil)
	for _, want := range []string{`"total":4.0`, `"progress":4.0`, `{"details":"Record rejected: injected item failure","error":"InvalidValue","id":1,"status":"Failed"}`} {
		if !strings.Contains(b, want) {
			t.Errorf("completed job lacks %s: %s", want, b)
		}
	}
	var done struct {
		JobStatus struct {
			Results []map[string]any `json:"results"`
		} `json:"job_status"`
	}
	_ = json.Unmarshal([]byte(b), &done)
	if n := len(done.JobStatus.Results); n != 3 {
		t.Errorf("%d results for 4 records: want the failure and every second success (3)", n)
	}
	for _, r := range done.JobStatus.Results {
		if _, failed := r["error"]; !failed && (len(r) != 2 || r["index"] == nil || r["id"] == nil) {
			t.Errorf("a bare create result is {id, index}: %v", r)
		}
	}
}

func TestServerRefusesBulkUserImportsButNotSingleUsers(t *testing.T) {
	s := zendesktest.NewServer()
	defer s.Close()
	s.RefuseBulkUserImports(true)
	users := map[string]any{"users": []map[string]any{{"name": "A", "email": "a@example.com"}}}
	for _, p := range []string{"/users/create_many.json", "/users/create_or_update_many.json"} {
		if st, _, b := send(t, s, "POST", p, users); st != 403 || !strings.Contains(b, "Data imports are not enabled") {
			t.Fatalf("%s: %d %s", p, st, b)
		}
	}
	one := map[string]any{"user": map[string]any{"name": "A", "email": "a@example.com"}}
	if st, _, b := send(t, s, "POST", "/users.json", one); st != 201 || !strings.Contains(b, `"email":"a@example.com"`) {
		t.Fatalf("create user: %d %s", st, b)
	}
	if st, _, b := send(t, s, "POST", "/users.json", one); st != 422 || !strings.Contains(b, "DuplicateValue") || !strings.Contains(b, `"email"`) {
		t.Fatalf("create user with a taken e-mail: %d %s", st, b)
	}
	one["user"].(map[string]any)["name"] = "A2"
	if st, _, b := send(t, s, "POST", "/users/create_or_update.json", one); st != 200 || !strings.Contains(b, `"name":"A2"`) {
		t.Fatalf("create or update user: %d %s", st, b)
	}
}
