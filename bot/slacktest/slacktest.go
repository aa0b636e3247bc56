// Package slacktest is an in-memory fake of the parts of Slack that zdsync's
// bot uses, served over real HTTP and a real websocket on loopback so that
// slack-go's Socket Mode client and Web API client are exercised as they
// are in production.
//
// It speaks the Socket Mode protocol (apps.connections.open returning a
// ws:// URL, hello, envelopes with envelope_id, acks, redeliveries with
// retry_attempt and retry_reason, disconnect, pings),
// serves the Web API methods the bot calls (auth.test, chat.postMessage,
// chat.update, files.getUploadURLExternal, the upload URL,
// files.completeUploadExternal, usergroups.users.list) and response_url
// endpoints, enforces the limits the bot must respect (50 blocks a
// message, 5 uses of a response_url, tokens of the right kind, and each
// method's rate limit, answered 429 with Retry-After as Slack does), and
// records everything it receives in one ordered log. Several Socket Mode
// connections may be open at once (an app may have up to 10: one per
// replica); envelopes are spread over them. Tests wait for what they
// expect with channels, never with sleeps.
package slacktest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// The tokens the fake accepts.
const (
	BotToken = "xoxb-test-bot-token"
	AppToken = "xapp-test-app-token"
)

// Event is one thing the fake received, in the order received. Seq orders
// events across kinds (an ack before a reply has a smaller Seq).
type Event struct {
	Seq int
	// At is when the fake received it.
	At time.Time
	// Kind is "api" (a Web API call), "ratelimited" (a Web API call
	// answered 429), "ack", "response" (a post to a response_url),
	// "upload" (file content) or "connect".
	Kind string
	// Conn is the Socket Mode connection (numbered from 1 in the order
	// they opened) that sent an ack or opened with a "connect".
	Conn int
	// Method is the Web API method ("chat.postMessage").
	Method string
	// Form holds the call's form values.
	Form url.Values
	// EnvelopeID is the envelope an ack answers.
	EnvelopeID string
	// URL is the response_url or upload URL used.
	URL string
	// Body is the raw JSON of an ack's payload or a response_url post, or
	// an upload's content.
	Body []byte
}

// Server is a fake Slack. Create it with NewServer and Close it.
type Server struct {
	// BotUserID is the bot's user ID, returned by auth.test.
	BotUserID string
	// PingInterval is how often the websocket is pinged, as Slack does;
	// the Socket Mode client reconnects when pings stop.
	PingInterval time.Duration

	srv      *httptest.Server
	upgrader websocket.Upgrader

	mu       sync.Mutex
	changed  chan struct{}
	seq      int
	events   []Event
	open     []*wsConn // open Socket Mode connections, oldest first
	conns    int       // connections ever opened
	next     int       // round robin over open
	limits   map[string]RateLimit
	buckets  map[string]*bucket
	messages []*Message
	files    map[string]*File
	groups   map[string][]string
	uses     map[string]int
	nextID   int
	closed   bool
}

// NewServer starts a fake Slack on loopback.
func NewServer() *Server {
	s := &Server{
		BotUserID:    "UBOT",
		PingInterval: 5 * time.Second,
		changed:      make(chan struct{}),
		files:        map[string]*File{},
		groups:       map[string][]string{},
		uses:         map[string]int{},
		limits:       DefaultRateLimits(),
		buckets:      map[string]*bucket{},
	}
	// Slack's client sends Origin https://api.slack.com.
	s.upgrader.CheckOrigin = func(*http.Request) bool { return true }
	mux := http.NewServeMux()
	mux.HandleFunc("/api/", s.serveAPI)
	mux.HandleFunc("/ws", s.serveWebsocket)
	mux.HandleFunc("/upload/", s.serveUpload)
	mux.HandleFunc("/response/", s.serveResponse)
	s.srv = httptest.NewServer(mux)
	return s
}

// APIURL is the Web API base URL to give slack.OptionAPIURL (with its
// trailing slash).
func (s *Server) APIURL() string { return s.srv.URL + "/api/" }

// URL is the server's base URL.
func (s *Server) URL() string { return s.srv.URL }

// Close disconnects the websockets and stops the server.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	open := slices.Clone(s.open)
	s.mu.Unlock()
	for _, c := range open {
		c.c.Close()
	}
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// record appends an event and wakes waiters; s.mu must be held.
func (s *Server) record(e Event) Event {
	s.seq++
	e.Seq = s.seq
	e.At = time.Now()
	s.events = append(s.events, e)
	close(s.changed)
	s.changed = make(chan struct{})
	return e
}

// WaitFor blocks until cond, called with the lock held on every change,
// returns true, or ctx ends.
func (s *Server) WaitFor(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		ok := cond()
		ch := s.changed
		s.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("slacktest: waiting: %w", ctx.Err())
		}
	}
}

// Events returns a copy of everything received so far.
func (s *Server) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.events...)
}

// filter returns the events received so far that match.
func (s *Server) filter(match func(Event) bool) []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.filterLocked(match)
}

// filterLocked is filter with s.mu held.
func (s *Server) filterLocked(match func(Event) bool) []Event {
	var out []Event
	for _, e := range s.events {
		if match(e) {
			out = append(out, e)
		}
	}
	return out
}

// waitEvents waits until n recorded events match and returns them.
func (s *Server) waitEvents(ctx context.Context, n int, match func(Event) bool) ([]Event, error) {
	var out []Event
	err := s.WaitFor(ctx, func() bool {
		out = s.filterLocked(match)
		return len(out) >= n
	})
	return out, err
}
