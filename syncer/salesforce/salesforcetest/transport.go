package salesforcetest

import (
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// MaxURIBytes is the longest request URI Salesforce accepts: "in each
// REST call, the maximum length for the combined URI and headers is 16,384
// bytes … If the URI itself exceeds this limit, the request returns a 414
// URI Too Long error" (Salesforce Help, knowledge article 000386264,
// "Maximum number of rows returned by SOQL queries over the REST API").
const MaxURIBytes = 16_384

// SetResponseDelay makes the fake wait d before answering each request (0
// turns it off). The wait ends early when the client gives up, so a client
// timeout shorter than d ends the request without the test sleeping d.
func (s *Server) SetResponseDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// RefuseConnections makes the fake drop its open connections and close the
// next n connections as soon as they are accepted (with a TCP reset), so
// the client sees a connection failure.
func (s *Server) RefuseConnections(n int) {
	s.mu.Lock()
	s.refuseConns = n
	s.mu.Unlock()
	s.srv.CloseClientConnections()
}

// gateListener closes accepted connections while the fake is refusing them.
type gateListener struct {
	net.Listener
	s *Server
}

// Accept returns the next connection the fake is not refusing.
func (l *gateListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		l.s.mu.Lock()
		refuse := l.s.refuseConns > 0
		if refuse {
			l.s.refuseConns--
			l.s.calls.Refused++
		}
		l.s.mu.Unlock()
		if !refuse {
			return c, nil
		}
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // reset, not an orderly close
		}
		_ = c.Close()
	}
}

// HoldRequests makes API requests (logins excluded) wait, in flight,
// until release is called: a test can then see how many a client has in
// flight at once (InFlight) and act while they wait. Calling release again
// does nothing.
func (s *Server) HoldRequests() (release func()) {
	held := make(chan struct{})
	s.mu.Lock()
	s.held = held
	s.mu.Unlock()
	return sync.OnceFunc(func() {
		s.mu.Lock()
		if s.held == held {
			s.held = nil
		}
		s.mu.Unlock()
		close(held)
	})
}

// InFlight returns the number of API requests the fake is answering (or
// holding) now.
func (s *Server) InFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inFlight
}

// counted keeps MaxInFlight: the API requests being answered at once,
// their delays and holds included. It also refuses a request whose URI
// is longer than Salesforce accepts (414) and calls the request hook.
func (s *Server) counted(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, dataPrefix+"/") {
			next.ServeHTTP(w, r)
			return
		}
		if len(r.RequestURI) > MaxURIBytes {
			writeHTML(w, http.StatusRequestURITooLong, "URI Too Long")
			return
		}
		s.mu.Lock()
		s.inFlight++
		s.calls.MaxInFlight = max(s.calls.MaxInFlight, s.inFlight)
		held, hook := s.held, s.hook
		s.mu.Unlock()
		if hook != nil {
			hook(r)
		}
		defer func() {
			s.mu.Lock()
			s.inFlight--
			s.mu.Unlock()
		}()
		if held != nil {
			select {
			case <-held:
			case <-r.Context().Done():
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) delayed(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		d := s.delay
		s.mu.Unlock()
		if d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// WithResponseDelay makes the fake wait d before answering each request, as
// SetResponseDelay does.
func WithResponseDelay(d time.Duration) Option { return func(s *Server) { s.delay = d } }
