package salesforcetest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// The limits of one composite request: "You can have up to 25 subrequests
// in a single call. Up to 5 of these subrequests can be sObject
// Collections or query operations, including Query and QueryAll requests"
// (REST API Developer Guide, "Composite").
const (
	MaxCompositeSubrequests = 25
	MaxCompositeQueries     = 5
)

// compositeRequest is the body of POST …/composite.
type compositeRequest struct {
	AllOrNone        bool `json:"allOrNone"`
	CompositeRequest []struct {
		Method      string          `json:"method"`
		URL         string          `json:"url"`
		ReferenceID string          `json:"referenceId"`
		Body        json.RawMessage `json:"body"`
	} `json:"compositeRequest"`
}

// compositeResult is one subrequest's result in the answer
// ({"compositeResponse": [...]}; REST API Developer Guide, "Composite
// Response Body").
type compositeResult struct {
	Body           any               `json:"body"`
	HTTPHeaders    map[string]string `json:"httpHeaders"`
	HTTPStatusCode int               `json:"httpStatusCode"`
	ReferenceID    string            `json:"referenceId"`
}

// handleComposite serves the composite resource for query and queryAll
// subrequests, the only ones zdsync sends: each is answered as a GET of
// its URL would be, and the whole request counts as one API call.
func (s *Server) handleComposite(w http.ResponseWriter, r *http.Request) {
	var req compositeRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeErrors(w, http.StatusBadRequest, "JSON_PARSER_ERROR", "Cannot deserialize the composite request: "+err.Error())
		return
	}
	queries := 0
	for _, sub := range req.CompositeRequest {
		if _, _, ok := subQuery(sub.URL); ok {
			queries++
		}
	}
	s.mu.Lock()
	s.calls.Composite++
	s.calls.CompositeQueries += queries
	s.mu.Unlock()
	// A request over the limits is answered 200 with one result that
	// says so, its referenceId null, as Salesforce answers it.
	refused := func(message string) {
		writeJSON(w, http.StatusOK, map[string]any{"compositeResponse": []map[string]any{{
			"body": errorBody("LIMIT_EXCEEDED", message), "httpHeaders": map[string]string{}, "httpStatusCode": http.StatusBadRequest, "referenceId": nil}}})
	}
	switch {
	case len(req.CompositeRequest) == 0:
		writeErrors(w, http.StatusBadRequest, "INVALID_INPUT", "The composite request has no subrequests.")
		return
	case len(req.CompositeRequest) > MaxCompositeSubrequests:
		refused(fmt.Sprintf("The request can’t contain more than %d operations.", MaxCompositeSubrequests))
		return
	case queries > MaxCompositeQueries:
		refused(fmt.Sprintf("The request can’t contain more than %d query operations.", MaxCompositeQueries))
		return
	}
	out := make([]compositeResult, len(req.CompositeRequest))
	failed := false
	for i, sub := range req.CompositeRequest {
		res := compositeResult{HTTPHeaders: map[string]string{}, ReferenceID: sub.ReferenceID}
		q, all, ok := subQuery(sub.URL)
		if !ok || sub.Method != http.MethodGet {
			res.HTTPStatusCode, res.Body = http.StatusNotFound, errorBody("NOT_FOUND", "The requested resource does not exist")
		} else {
			res.HTTPStatusCode, res.Body = s.answerQuery(q, all)
		}
		failed = failed || res.HTTPStatusCode >= http.StatusBadRequest
		out[i] = res
	}
	if req.AllOrNone && failed {
		for i := range out {
			if out[i].HTTPStatusCode < http.StatusBadRequest {
				out[i].HTTPStatusCode = http.StatusBadRequest
				out[i].Body = errorBody("PROCESSING_HALTED", "The transaction was rolled back since another operation in the same transaction failed.")
			}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"compositeResponse": out})
}

// subQuery reads the SOQL of a query or queryAll subrequest URL
// (/services/data/v62.0/query/?q=…).
func subQuery(u string) (q string, all bool, ok bool) {
	p, err := url.Parse(u)
	if err != nil {
		return "", false, false
	}
	switch strings.TrimSuffix(p.Path, "/") {
	case dataPrefix + "/query":
	case dataPrefix + "/queryAll":
		all = true
	default:
		return "", false, false
	}
	q = p.Query().Get("q")
	return q, all, q != ""
}
