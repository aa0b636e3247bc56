package slacktest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Slack's documented limits of a message that the fake enforces.
const (
	// MaxBlocks is the most blocks a message may have
	// (https://api.slack.com/reference/block-kit/blocks).
	MaxBlocks = 50
	// MaxResponseURLUses is how many times a response_url may be used
	// (https://api.slack.com/interactivity/handling#message_responses).
	MaxResponseURLUses = 5
)

// serveAPI answers a Web API call: it reads the call's token and form,
// answers 429 beyond the method's rate limit, checks that the token is of
// the method's kind and calls the method.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	method := strings.TrimPrefix(r.URL.Path, "/api/")
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	token, form, err := readCall(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
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
		writeRateLimited(w, d)
		return
	}
	s.record(Event{Kind: "api", Method: method, Form: clean})
	want := BotToken
	if method == "apps.connections.open" {
		want = AppToken
	}
	if token != want {
		fail(w, "invalid_auth")
		return
	}
	s.call(w, method, form)
}

// readCall returns a Web API call's token (its bearer token, or the token
// of its form) and its form (empty for a JSON body, which the fake does
// not read).
func readCall(r *http.Request) (string, url.Values, error) {
	token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		_, _ = io.Copy(io.Discard, r.Body)
		return token, url.Values{}, nil
	}
	if err := r.ParseForm(); err != nil {
		return "", nil, err
	}
	if t := r.PostForm.Get("token"); t != "" {
		token = t
	}
	return token, r.PostForm, nil
}

// call answers one authorized Web API method; s.mu is held.
func (s *Server) call(w http.ResponseWriter, method string, form url.Values) {
	switch method {
	case "apps.connections.open":
		writeJSON(w, map[string]any{"ok": true, "url": "ws" + strings.TrimPrefix(s.srv.URL, "http") + "/ws"})
	case "auth.test":
		writeJSON(w, map[string]any{"ok": true, "url": "https://example.slack.com/", "team": "Example",
			"user": "zdsync", "team_id": "T1", "user_id": s.BotUserID, "bot_id": "B1"})
	case "chat.postMessage":
		s.postMessage(w, form)
	case "chat.update":
		s.updateMessage(w, form)
	case "files.getUploadURLExternal":
		s.getUploadURL(w, form)
	case "files.completeUploadExternal":
		s.completeUpload(w, form)
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

// Calls returns the Web API calls of method received so far.
func (s *Server) Calls(method string) []Event { return s.filter(isCall(method)) }

// WaitCalls waits until at least n calls of method were received and
// returns them.
func (s *Server) WaitCalls(ctx context.Context, method string, n int) ([]Event, error) {
	return s.waitEvents(ctx, n, isCall(method))
}

// isCall matches the Web API calls of method (not those answered 429).
func isCall(method string) func(Event) bool {
	return func(e Event) bool { return e.Kind == "api" && e.Method == method }
}

// SetGroup sets the members of a user group, for usergroups.users.list.
func (s *Server) SetGroup(id string, members ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.groups[id] = members
}

// writeJSON answers a Web API call with v.
func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// fail answers a Web API call with Slack's error code.
func fail(w http.ResponseWriter, code string) {
	writeJSON(w, map[string]any{"ok": false, "error": code})
}
