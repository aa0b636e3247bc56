package slacktest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strconv"
	"strings"
)

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
	return x.deliver(ctx, "slash_commands", payload, true)
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
	return x.deliver(ctx, "interactive", payload, false)
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

// deliver sends the exchange's envelope, of type typ with payload, for
// the first time.
func (x *Exchange) deliver(ctx context.Context, typ string, payload map[string]any, acceptsResponse bool) (*Exchange, error) {
	x.frame = map[string]any{
		"type": typ, "envelope_id": x.EnvelopeID, "payload": payload, "accepts_response_payload": acceptsResponse,
		"retry_attempt": 0, "retry_reason": "",
	}
	var err error
	x.Conn, err = x.s.send(ctx, x.frame, 0)
	return x, err
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

func (s *Server) newExchange() *Exchange {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	id := strconv.Itoa(s.nextID)
	return &Exchange{EnvelopeID: "env-" + id, ResponseURL: s.srv.URL + "/response/" + id, s: s}
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
