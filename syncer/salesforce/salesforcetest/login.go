package salesforcetest

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The default credentials of a fake; the demo logs in with them.
const (
	DefaultClientID      = "zdsync-fake-client-id"
	DefaultClientSecret  = "zdsync-fake-client-secret"
	DefaultUsername      = "integration@zdsync.example"
	DefaultPassword      = "fake-password"
	DefaultSecurityToken = "fakeSecurityToken"
)

// Credentials are the credentials a fake accepts. The password flow needs
// all five; the client-credentials flow needs ClientID and ClientSecret.
type Credentials struct {
	ClientID      string // the connected app's consumer key
	ClientSecret  string // the connected app's consumer secret
	Username      string // the integration user (password flow)
	Password      string // its password (password flow)
	SecurityToken string // its security token, appended to the password (password flow)
}

// DefaultCredentials returns the credentials a fake accepts unless told
// otherwise.
func DefaultCredentials() Credentials {
	return Credentials{DefaultClientID, DefaultClientSecret, DefaultUsername, DefaultPassword, DefaultSecurityToken}
}

// WithCredentials makes the fake accept c instead of DefaultCredentials.
func WithCredentials(c Credentials) Option { return func(s *Server) { s.creds = c } }

// Credentials returns the credentials the fake accepts.
func (s *Server) Credentials() Credentials { return s.creds }

// handleToken serves the OAuth 2.0 token endpoint for the password and
// client-credentials flows. Every field of the answer is a JSON string.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, "invalid_request", "malformed request body")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls.Token++
	if s.failLogins > 0 {
		s.failLogins--
		writeHTML(w, s.loginStatus, http.StatusText(s.loginStatus))
		return
	}
	grant := r.PostForm.Get("grant_type")
	if grant != "password" && grant != "client_credentials" {
		writeOAuthError(w, "unsupported_grant_type", "grant type not supported")
		return
	}
	if r.PostForm.Get("client_id") != s.creds.ClientID {
		writeOAuthError(w, "invalid_client_id", "client identifier invalid")
		return
	}
	if r.PostForm.Get("client_secret") != s.creds.ClientSecret {
		writeOAuthError(w, "invalid_client", "invalid client credentials")
		return
	}
	if grant == "password" && (s.creds.Username == "" ||
		r.PostForm.Get("username") != s.creds.Username ||
		r.PostForm.Get("password") != s.creds.Password+s.creds.SecurityToken) {
		writeOAuthError(w, "invalid_grant", "authentication failure")
		return
	}
	if s.rejectLogins > 0 {
		s.rejectLogins--
		writeOAuthError(w, "invalid_grant", "authentication failure")
		return
	}
	s.seq++
	token := fmt.Sprintf("00DFAKE00000000001!AQ%016x", s.seq)
	s.tokens[token] = true
	resp := map[string]string{
		"access_token": token,
		"instance_url": s.srv.URL,
		"id":           s.srv.URL + "/id/00DFAKE00000000001/005FAKE00000000001",
		"token_type":   "Bearer",
		"issued_at":    strconv.FormatInt(caseEpoch.Add(time.Duration(s.seq)*time.Second).UnixMilli(), 10),
		"signature":    "ZmFrZS1zaWduYXR1cmU=",
	}
	if grant == "client_credentials" {
		resp["scope"] = "api"
	}
	writeJSON(w, http.StatusOK, resp)
}

func writeOAuthError(w http.ResponseWriter, code, desc string) {
	writeJSON(w, http.StatusBadRequest, map[string]string{"error": code, "error_description": desc})
}

// RejectLogins makes the next n token requests fail with invalid_grant even
// with the right credentials (with ExpireSessions: a failed re-login).
func (s *Server) RejectLogins(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejectLogins = n
}

// FailLogins makes the next n token requests be answered with the given
// HTTP status (a 5xx: the login service unavailable) and an HTML page.
func (s *Server) FailLogins(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failLogins, s.loginStatus = n, status
}

// ExpireSessions invalidates every access token issued so far: the next API
// call is answered 401 INVALID_SESSION_ID, and go-salesforce logs in again
// once and retries.
func (s *Server) ExpireSessions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}

// ExpireSessionsAfter makes every access token expire once the next n API
// calls have been accepted, as when a session times out in the middle of a
// run (a query between two pages, a case push between its find and its
// create): the call after them is answered 401 INVALID_SESSION_ID, and
// go-salesforce logs in again once and retries.
func (s *Server) ExpireSessionsAfter(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireIn = n
}

// authed checks the bearer token of an API call, as Salesforce does, then
// the injected 429s and the daily API allowance, which the call uses one
// of; the answer reports the org's usage in Sforce-Limit-Info (REST API
// Developer Guide, "Limit Info Header").
func (s *Server) authed(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		s.mu.Lock()
		valid := ok && s.tokens[tok]
		limited, exhausted, failed := false, false, 0
		switch {
		case !valid:
			s.calls.Unauthorized++
		case s.failNext > 0:
			s.failNext--
			failed = s.failStatus
		case s.limitNext > 0:
			s.limitNext--
			s.calls.Limited++
			limited = true
		case s.allowance[1] <= 0:
			s.calls.Limited++
			exhausted = true
		default:
			s.allowance[1]--
			if s.expireIn > 0 {
				if s.expireIn--; s.expireIn == 0 {
					clear(s.tokens) // this call is answered; the next one is not
				}
			}
		}
		retryAfter := s.retryAfter
		w.Header().Set("Sforce-Limit-Info", fmt.Sprintf("api-usage=%d/%d", s.allowance[0]-s.allowance[1], s.allowance[0]))
		s.mu.Unlock()
		switch {
		case !valid:
			writeErrors(w, http.StatusUnauthorized, errInvalidSession, "Session expired or invalid")
		case failed != 0:
			writeHTML(w, failed, http.StatusText(failed))
		case limited:
			if retryAfter > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(int(retryAfter.Round(time.Second)/time.Second)))
			}
			writeHTML(w, http.StatusTooManyRequests, "Too Many Requests")
		case exhausted:
			// As Salesforce answers it: no "fields".
			writeJSON(w, http.StatusForbidden, []map[string]string{{"message": "TotalRequests Limit exceeded.", "errorCode": errRequestLimit}})
		default:
			next(w, r)
		}
	}
}
