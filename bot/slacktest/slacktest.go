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
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Slack's documented limits that the fake enforces.
const (
	// MaxBlocks is the most blocks a message may have
	// (https://api.slack.com/reference/block-kit/blocks).
	MaxBlocks = 50
	// MaxResponseURLUses is how many times a response_url may be used
	// (https://api.slack.com/interactivity/handling#message_responses).
	MaxResponseURLUses = 5
	// PostMessagesPerMinute: chat.postMessage "generally allows posting
	// one message per second per channel"
	// (https://api.slack.com/methods/chat.postMessage, "Rate limiting").
	PostMessagesPerMinute = 60
	// Tier3PerMinute is the rate of Tier 3 methods (chat.update), "50+
	// per minute"; Tier4PerMinute of Tier 4 methods
	// (files.getUploadURLExternal, files.completeUploadExternal), "100+
	// per minute" ("Rate limits", https://api.slack.com/apis/rate-limits).
	Tier3PerMinute = 50
	Tier4PerMinute = 100
)

// RateLimit is how the fake limits one Web API method: PerMinute calls a
// minute on average and at most Burst at once (a token bucket), per
// channel when PerChannel. A call beyond it is answered 429 Too Many
// Requests with a Retry-After header (seconds) and {"ok": false, "error":
// "ratelimited"}, as Slack does ("Rate limits", "Responding to rate
// limiting conditions").
type RateLimit struct {
	PerMinute  int
	Burst      int
	PerChannel bool
}

// DefaultRateLimits are the limits a new Server enforces: each method's
// documented rate, with the short bursts Slack tolerates.
func DefaultRateLimits() map[string]RateLimit {
	return map[string]RateLimit{
		"chat.postMessage":             {PerMinute: PostMessagesPerMinute, Burst: 4, PerChannel: true},
		"chat.update":                  {PerMinute: Tier3PerMinute, Burst: 10},
		"files.getUploadURLExternal":   {PerMinute: Tier4PerMinute, Burst: 20},
		"files.completeUploadExternal": {PerMinute: Tier4PerMinute, Burst: 20},
	}
}

// bucket is the token bucket of one rate-limited method (and channel).
type bucket struct {
	tokens float64
	at     time.Time
}

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

// Message is a message as the fake holds it after chat.postMessage and any
// chat.update.
type Message struct {
	Channel  string
	TS       string
	ThreadTS string
	Text     string
	Blocks   json.RawMessage
	// Updates counts the chat.update calls applied to the message.
	Updates int
}

// File is an uploaded file.
type File struct {
	ID       string
	Name     string
	Title    string
	Channel  string
	ThreadTS string
	Content  []byte
	Done     bool
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

// wsConn is one open Socket Mode connection.
type wsConn struct {
	n  int
	c  *websocket.Conn
	mu sync.Mutex // serializes writes
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

// SetRateLimit sets the rate limit of a Web API method; a zero PerMinute
// lifts it.
func (s *Server) SetRateLimit(method string, l RateLimit) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l.PerMinute <= 0 {
		delete(s.limits, method)
	} else {
		s.limits[method] = l
	}
	for k := range s.buckets {
		if k == method || strings.HasPrefix(k, method+" ") {
			delete(s.buckets, k)
		}
	}
}

// RateLimited returns the calls of method answered 429 so far.
func (s *Server) RateLimited(method string) []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Event
	for _, e := range s.events {
		if e.Kind == "ratelimited" && e.Method == method {
			out = append(out, e)
		}
	}
	return out
}

// retryAfter takes a token of method's limit (in channel) and returns 0,
// or, when none is left, how long until one is; s.mu is held.
func (s *Server) retryAfter(method, channel string, now time.Time) time.Duration {
	l, ok := s.limits[method]
	if !ok {
		return 0
	}
	key := method
	if l.PerChannel {
		key += " " + channel
	}
	every := time.Minute / time.Duration(l.PerMinute)
	b := s.buckets[key]
	if b == nil {
		b = &bucket{tokens: float64(l.Burst), at: now}
		s.buckets[key] = b
	}
	b.tokens = min(float64(l.Burst), b.tokens+float64(now.Sub(b.at))/float64(every))
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return 0
	}
	return time.Duration((1 - b.tokens) * float64(every))
}

// SetGroup sets the members of a user group, for usergroups.users.list.
func (s *Server) SetGroup(id string, members ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.groups[id] = members
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

// Calls returns the Web API calls of method received so far.
func (s *Server) Calls(method string) []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.callsLocked(method)
}

func (s *Server) callsLocked(method string) []Event {
	var out []Event
	for _, e := range s.events {
		if e.Kind == "api" && e.Method == method {
			out = append(out, e)
		}
	}
	return out
}

// WaitCalls waits until at least n calls of method were received and
// returns them.
func (s *Server) WaitCalls(ctx context.Context, method string, n int) ([]Event, error) {
	var out []Event
	err := s.WaitFor(ctx, func() bool {
		out = s.callsLocked(method)
		return len(out) >= n
	})
	return out, err
}

// Messages returns copies of the messages of channel (all channels when
// channel is ""), oldest first, thread replies included.
func (s *Server) Messages(channel string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.messagesLocked(channel)
}

func (s *Server) messagesLocked(channel string) []Message {
	var out []Message
	for _, m := range s.messages {
		if channel == "" || m.Channel == channel {
			out = append(out, *m)
		}
	}
	return out
}

// WaitMessages waits until channel holds at least n messages (thread
// replies included) and returns them.
func (s *Server) WaitMessages(ctx context.Context, channel string, n int) ([]Message, error) {
	var out []Message
	err := s.WaitFor(ctx, func() bool {
		out = s.messagesLocked(channel)
		return len(out) >= n
	})
	return out, err
}

// DeleteMessage deletes a message as a person in Slack would; chat.update
// of it then answers message_not_found. It reports whether it existed.
func (s *Server) DeleteMessage(channel, ts string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, m := range s.messages {
		if m.Channel == channel && m.TS == ts {
			s.messages = append(s.messages[:i], s.messages[i+1:]...)
			return true
		}
	}
	return false
}

// Files returns copies of the uploaded files.
func (s *Server) Files() []File {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []File
	for i := 1; i <= s.nextID; i++ {
		if f, ok := s.files["F"+strconv.Itoa(i)]; ok {
			out = append(out, *f)
		}
	}
	return out
}

// WaitConnected waits until Socket Mode clients have connected n times in
// all (n = 2 after one reconnection) and one connection is open (was sent
// hello).
func (s *Server) WaitConnected(ctx context.Context, n int) error {
	return s.WaitFor(ctx, func() bool { return s.conns >= n && len(s.open) > 0 })
}

// WaitOpen waits until n Socket Mode connections are open at once (n
// replicas connected).
func (s *Server) WaitOpen(ctx context.Context, n int) error {
	return s.WaitFor(ctx, func() bool { return len(s.open) >= n })
}

// Disconnect asks every connected client to reconnect, as Slack does
// before it rotates a connection.
func (s *Server) Disconnect(ctx context.Context) error {
	frame := map[string]any{"type": "disconnect", "reason": "refresh_requested"}
	s.mu.Lock()
	open := append([]*wsConn(nil), s.open...)
	s.mu.Unlock()
	if len(open) == 0 {
		_, err := s.send(ctx, frame, 0)
		return err
	}
	for _, c := range open {
		if err := c.write(frame); err != nil {
			return err
		}
	}
	return nil
}

// Exchange is one envelope sent to the bot: its ack and the posts to its
// response_url.
type Exchange struct {
	EnvelopeID  string
	ResponseURL string
	// Conn is the connection the envelope was last sent on.
	Conn int
	s    *Server
	// frame is the envelope as sent, for Redeliver.
	frame    map[string]any
	attempts int
}

// Redeliver sends the exchange's envelope again, with the same
// envelope_id and payload, retry_attempt counting up from 1 and
// retry_reason set, as Slack redelivers an envelope whose ack it did not
// count (a late ack, one lost with a refreshed connection): on another
// open connection (another replica) when there is one.
func (x *Exchange) Redeliver(ctx context.Context, reason string) error {
	x.attempts++
	frame := maps.Clone(x.frame)
	frame["retry_attempt"], frame["retry_reason"] = x.attempts, reason
	n, err := x.s.send(ctx, frame, x.Conn)
	x.Conn = n
	return err
}

// Acks waits until the envelope was acknowledged n times and returns the
// acks.
func (x *Exchange) Acks(ctx context.Context, n int) ([]Event, error) {
	return x.s.waitEvents(ctx, n, func(e Event) bool { return e.Kind == "ack" && e.EnvelopeID == x.EnvelopeID })
}

// Ack waits for the envelope's ack.
func (x *Exchange) Ack(ctx context.Context) (Event, error) {
	acks, err := x.Acks(ctx, 1)
	if err != nil {
		return Event{}, err
	}
	return acks[0], nil
}

// Responses waits until the response_url was used n times and returns the
// posts.
func (x *Exchange) Responses(ctx context.Context, n int) ([]Event, error) {
	return x.s.waitEvents(ctx, n, func(e Event) bool { return e.Kind == "response" && e.URL == x.ResponseURL })
}

// waitEvents waits until n recorded events match and returns them.
func (s *Server) waitEvents(ctx context.Context, n int, match func(Event) bool) ([]Event, error) {
	var out []Event
	err := s.WaitFor(ctx, func() bool {
		out = out[:0]
		for _, e := range s.events {
			if match(e) {
				out = append(out, e)
			}
		}
		return len(out) >= n
	})
	return out, err
}

// SlashCommand describes a /zdsync invocation to send.
type SlashCommand struct {
	User    string
	Channel string
	Text    string
	// Command defaults to "/zdsync".
	Command string
}

// SendSlashCommand sends a slash_commands envelope to the connected client.
func (s *Server) SendSlashCommand(ctx context.Context, c SlashCommand) (*Exchange, error) {
	if c.Command == "" {
		c.Command = "/zdsync"
	}
	if c.Channel == "" {
		c.Channel = "CCMD"
	}
	x := s.newExchange()
	payload := map[string]any{
		"token": "verification", "team_id": "T1", "team_domain": "example",
		"channel_id": c.Channel, "channel_name": "ops", "user_id": c.User, "user_name": strings.ToLower(c.User),
		"command": c.Command, "text": c.Text, "response_url": x.ResponseURL, "trigger_id": "trigger-" + x.EnvelopeID,
		"api_app_id": "A1",
	}
	x.frame = map[string]any{
		"type": "slash_commands", "envelope_id": x.EnvelopeID, "payload": payload, "accepts_response_payload": true,
		"retry_attempt": 0, "retry_reason": "",
	}
	var err error
	x.Conn, err = s.send(ctx, x.frame, 0)
	return x, err
}

// ButtonPress describes a press of a button of a message to send.
type ButtonPress struct {
	User     string
	ActionID string
	// Message is the message whose button is pressed; its blocks give
	// the button's value and block ID.
	Message Message
}

// Button is a button found in a message's blocks.
type Button struct {
	ActionID string `json:"action_id"`
	BlockID  string `json:"-"`
	Value    string `json:"value"`
	Text     string `json:"-"`
	Style    string `json:"style"`
}

// Buttons returns the buttons of a message's blocks, in order.
func Buttons(blocks json.RawMessage) []Button {
	var bs []struct {
		Type     string `json:"type"`
		BlockID  string `json:"block_id"`
		Elements []struct {
			Type     string `json:"type"`
			ActionID string `json:"action_id"`
			Value    string `json:"value"`
			Style    string `json:"style"`
			Text     struct {
				Text string `json:"text"`
			} `json:"text"`
		} `json:"elements"`
	}
	_ = json.Unmarshal(blocks, &bs)
	var out []Button
	for _, b := range bs {
		if b.Type != "actions" {
			continue
		}
		for _, e := range b.Elements {
			if e.Type == "button" {
				out = append(out, Button{ActionID: e.ActionID, BlockID: b.BlockID, Value: e.Value, Text: e.Text.Text, Style: e.Style})
			}
		}
	}
	return out
}

// PressButton sends an interactive block_actions envelope for the button
// with p.ActionID in p.Message, as Slack does when a user clicks it.
func (s *Server) PressButton(ctx context.Context, p ButtonPress) (*Exchange, error) {
	var btn *Button
	for _, b := range Buttons(p.Message.Blocks) {
		if b.ActionID == p.ActionID {
			btn = &b
			break
		}
	}
	if btn == nil {
		return nil, fmt.Errorf("slacktest: message %s has no button %q", p.Message.TS, p.ActionID)
	}
	x := s.newExchange()
	channel := p.Message.Channel
	if channel == "" {
		channel = "CCMD"
	}
	ts := p.Message.TS
	if ts == "" {
		ts = "1700000000.000001"
	}
	payload := map[string]any{
		"type": "block_actions", "team": map[string]any{"id": "T1"},
		"user":    map[string]any{"id": p.User, "username": strings.ToLower(p.User)},
		"channel": map[string]any{"id": channel, "name": "ops"},
		"message": map[string]any{"type": "message", "ts": ts, "text": p.Message.Text, "blocks": p.Message.Blocks},
		"container": map[string]any{"type": "message", "message_ts": ts, "channel_id": channel,
			"is_ephemeral": false},
		"response_url": x.ResponseURL, "trigger_id": "trigger-" + x.EnvelopeID, "api_app_id": "A1",
		"actions": []map[string]any{{
			"type": "button", "action_id": btn.ActionID, "block_id": btn.BlockID, "value": btn.Value,
			"text": map[string]any{"type": "plain_text", "text": btn.Text}, "action_ts": "1700000000.1",
		}},
	}
	x.frame = map[string]any{
		"type": "interactive", "envelope_id": x.EnvelopeID, "payload": payload, "accepts_response_payload": false,
		"retry_attempt": 0, "retry_reason": "",
	}
	var err error
	x.Conn, err = s.send(ctx, x.frame, 0)
	return x, err
}

func (s *Server) newExchange() *Exchange {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	id := strconv.Itoa(s.nextID)
	return &Exchange{EnvelopeID: "env-" + id, ResponseURL: s.srv.URL + "/response/" + id, s: s}
}

// send writes one frame to an open connection, waiting for one: the next
// in turn, but not connection avoid (0: any) when another is open. It
// returns the connection's number.
func (s *Server) send(ctx context.Context, v any, avoid int) (int, error) {
	var c *wsConn
	if err := s.WaitFor(ctx, func() bool {
		var ok []*wsConn
		for _, o := range s.open {
			if o.n != avoid {
				ok = append(ok, o)
			}
		}
		if len(ok) == 0 {
			ok = s.open
		}
		if len(ok) == 0 {
			return false
		}
		s.next++
		c = ok[s.next%len(ok)]
		return true
	}); err != nil {
		return 0, err
	}
	return c.n, c.write(v)
}

// write writes one JSON frame.
func (c *wsConn) write(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.c.WriteMessage(websocket.TextMessage, b)
}

func (s *Server) serveWebsocket(w http.ResponseWriter, r *http.Request) {
	conn, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		conn.Close()
		return
	}
	s.conns++
	c := &wsConn{n: s.conns, c: conn}
	s.mu.Unlock()
	if err := c.write(map[string]any{"type": "hello", "num_connections": 1,
		"connection_info": map[string]any{"app_id": "A1"}, "debug_info": map[string]any{"host": "slacktest"}}); err != nil {
		conn.Close()
		return
	}
	s.mu.Lock()
	s.open = append(s.open, c)
	s.record(Event{Kind: "connect", Conn: c.n, Body: []byte(strconv.Itoa(c.n))})
	s.mu.Unlock()

	done := make(chan struct{})
	go func() {
		t := time.NewTicker(s.PingInterval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				c.mu.Lock()
				err := conn.WriteControl(websocket.PingMessage, []byte("ping"), time.Now().Add(time.Second))
				c.mu.Unlock()
				if err != nil {
					return
				}
			}
		}
	}()
	defer close(done)
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			s.mu.Lock()
			s.open = slices.DeleteFunc(s.open, func(o *wsConn) bool { return o == c })
			s.mu.Unlock()
			conn.Close()
			return
		}
		var ack struct {
			EnvelopeID string          `json:"envelope_id"`
			Payload    json.RawMessage `json:"payload"`
		}
		if json.Unmarshal(data, &ack) != nil || ack.EnvelopeID == "" {
			continue
		}
		s.mu.Lock()
		s.record(Event{Kind: "ack", Conn: c.n, EnvelopeID: ack.EnvelopeID, Body: ack.Payload})
		s.mu.Unlock()
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, code string) {
	writeJSON(w, map[string]any{"ok": false, "error": code})
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	method := strings.TrimPrefix(r.URL.Path, "/api/")
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	var form url.Values
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		form = url.Values{}
		_, _ = io.Copy(io.Discard, r.Body)
	} else {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		form = r.PostForm
		if t := form.Get("token"); t != "" {
			token = t
		}
	}
	clean := url.Values{}
	for k, v := range form {
		if k != "token" {
			clean[k] = v
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := s.retryAfter(method, form.Get("channel"), time.Now()); d > 0 {
		s.record(Event{Kind: "ratelimited", Method: method, Form: clean})
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", strconv.Itoa(int((d+time.Second-1)/time.Second)))
		w.WriteHeader(http.StatusTooManyRequests)
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": false, "error": "ratelimited"})
		return
	}
	s.record(Event{Kind: "api", Method: method, Form: clean})
	if method == "apps.connections.open" {
		if token != AppToken {
			fail(w, "invalid_auth")
			return
		}
		writeJSON(w, map[string]any{"ok": true, "url": "ws" + strings.TrimPrefix(s.srv.URL, "http") + "/ws"})
		return
	}
	if token != BotToken {
		fail(w, "invalid_auth")
		return
	}
	switch method {
	case "auth.test":
		writeJSON(w, map[string]any{"ok": true, "url": "https://example.slack.com/", "team": "Example",
			"user": "zdsync", "team_id": "T1", "user_id": s.BotUserID, "bot_id": "B1"})
	case "chat.postMessage":
		s.postMessage(w, form)
	case "chat.update":
		s.updateMessage(w, form)
	case "files.getUploadURLExternal":
		n, err := strconv.Atoi(form.Get("length"))
		if form.Get("filename") == "" || err != nil || n <= 0 {
			fail(w, "invalid_arguments")
			return
		}
		s.nextID++
		id := "F" + strconv.Itoa(s.nextID)
		s.files[id] = &File{ID: id, Name: form.Get("filename")}
		writeJSON(w, map[string]any{"ok": true, "upload_url": s.srv.URL + "/upload/" + id, "file_id": id})
	case "files.completeUploadExternal":
		var files []struct {
			ID    string `json:"id"`
			Title string `json:"title"`
		}
		if err := json.Unmarshal([]byte(form.Get("files")), &files); err != nil || len(files) == 0 {
			fail(w, "invalid_arguments")
			return
		}
		var out []map[string]any
		for _, f := range files {
			rec, ok := s.files[f.ID]
			if !ok || rec.Content == nil {
				fail(w, "file_not_found")
				return
			}
			rec.Title, rec.Channel, rec.ThreadTS, rec.Done = f.Title, form.Get("channel_id"), form.Get("thread_ts"), true
			out = append(out, map[string]any{"id": f.ID, "title": f.Title})
		}
		writeJSON(w, map[string]any{"ok": true, "files": out})
	case "usergroups.users.list":
		m, ok := s.groups[form.Get("usergroup")]
		if !ok {
			fail(w, "no_such_subteam")
			return
		}
		writeJSON(w, map[string]any{"ok": true, "users": m})
	default:
		fail(w, "unknown_method")
	}
}

func blockCount(raw string) (int, bool) {
	if raw == "" {
		return 0, true
	}
	var bs []json.RawMessage
	if json.Unmarshal([]byte(raw), &bs) != nil {
		return 0, false
	}
	return len(bs), true
}

func (s *Server) postMessage(w http.ResponseWriter, form url.Values) {
	ch := form.Get("channel")
	if ch == "" {
		fail(w, "channel_not_found")
		return
	}
	n, ok := blockCount(form.Get("blocks"))
	if !ok || n > MaxBlocks {
		fail(w, "invalid_blocks")
		return
	}
	if form.Get("text") == "" && n == 0 {
		fail(w, "no_text")
		return
	}
	s.nextID++
	ts := fmt.Sprintf("1700000000.%06d", s.nextID)
	m := &Message{Channel: ch, TS: ts, ThreadTS: form.Get("thread_ts"), Text: form.Get("text"), Blocks: json.RawMessage(form.Get("blocks"))}
	s.messages = append(s.messages, m)
	writeJSON(w, map[string]any{"ok": true, "channel": ch, "ts": ts, "message": map[string]any{"text": m.Text, "ts": ts}})
}

func (s *Server) updateMessage(w http.ResponseWriter, form url.Values) {
	n, ok := blockCount(form.Get("blocks"))
	if !ok || n > MaxBlocks {
		fail(w, "invalid_blocks")
		return
	}
	for _, m := range s.messages {
		if m.Channel == form.Get("channel") && m.TS == form.Get("ts") {
			m.Text = form.Get("text")
			if b := form.Get("blocks"); b != "" {
				m.Blocks = json.RawMessage(b)
			}
			m.Updates++
			writeJSON(w, map[string]any{"ok": true, "channel": m.Channel, "ts": m.TS, "text": m.Text})
			return
		}
	}
	fail(w, "message_not_found")
}

func (s *Server) serveUpload(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, "/upload/")
	f, _, err := r.FormFile("file")
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	content, err := io.ReadAll(f)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.files[id]
	if !ok {
		http.Error(w, "unknown file", http.StatusNotFound)
		return
	}
	rec.Content = content
	s.record(Event{Kind: "upload", URL: r.URL.String(), Body: content})
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, "OK - "+strconv.Itoa(len(content)))
}

func (s *Server) serveResponse(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil || !json.Valid(body) {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	u := s.srv.URL + r.URL.Path
	var msg struct {
		Blocks []json.RawMessage `json:"blocks"`
	}
	_ = json.Unmarshal(body, &msg)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.uses[u]++
	if s.uses[u] > MaxResponseURLUses {
		http.Error(w, "used_url", http.StatusNotFound)
		return
	}
	if len(msg.Blocks) > MaxBlocks {
		http.Error(w, "invalid_blocks", http.StatusBadRequest)
		return
	}
	s.record(Event{Kind: "response", URL: u, Body: body})
	_, _ = io.WriteString(w, "ok")
}
