package slacktest

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// wsConn is one open Socket Mode connection.
type wsConn struct {
	n  int
	c  *websocket.Conn
	mu sync.Mutex // serializes writes
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

// serveWebsocket serves one Socket Mode connection: hello, pings, and the
// acks it reads until the client goes.
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
	go c.ping(s.PingInterval, done)
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

// ping pings the connection every interval, as Slack does, until done is
// closed or a ping fails.
func (c *wsConn) ping(interval time.Duration, done <-chan struct{}) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			c.mu.Lock()
			err := c.c.WriteControl(websocket.PingMessage, []byte("ping"), time.Now().Add(time.Second))
			c.mu.Unlock()
			if err != nil {
				return
			}
		}
	}
}
