package slacktest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/zdsync/zdsync/bot/slacktest"
)

// The fake answers a call beyond a method's documented rate as Slack does:
// HTTP 429 with a Retry-After that slack-go reads, per channel for
// chat.postMessage and per method for the tiers.
func TestServerEnforcesRateLimits(t *testing.T) {
	s := slacktest.NewServer()
	defer s.Close()
	api := slack.New(slacktest.BotToken, slack.OptionAPIURL(s.APIURL()))
	ctx := context.Background()
	post := func(channel string) error {
		_, _, err := api.PostMessageContext(ctx, channel, slack.MsgOptionText("hello", false))
		return err
	}
	limits := slacktest.DefaultRateLimits()
	for i := range limits["chat.postMessage"].Burst {
		if err := post("C1"); err != nil {
			t.Fatalf("post %d within the burst: %v", i+1, err)
		}
	}
	var rl *slack.RateLimitedError
	if err := post("C1"); !errors.As(err, &rl) || rl.RetryAfter < time.Second {
		t.Fatalf("post beyond the burst: %v, want a 429 with a Retry-After of a second or more", err)
	}
	if err := post("C2"); err != nil {
		t.Errorf("a post to another channel: %v", err)
	}
	_, ts, _ := api.PostMessageContext(ctx, "C3", slack.MsgOptionText("status", false))
	var err error
	for range limits["chat.update"].Burst + 1 {
		if _, _, _, err = api.UpdateMessageContext(ctx, "C3", ts, slack.MsgOptionText("edited", false)); err != nil {
			break
		}
	}
	if !errors.As(err, &rl) {
		t.Fatalf("chat.update beyond its burst: %v, want a 429", err)
	}
	if n, m := len(s.RateLimited("chat.postMessage")), len(s.RateLimited("chat.update")); n != 1 || m != 1 {
		t.Errorf("429s recorded: %d chat.postMessage, %d chat.update; want 1 each", n, m)
	}
	if got := s.Messages("C1"); len(got) != limits["chat.postMessage"].Burst {
		t.Errorf("%d messages in C1: a refused post was kept", len(got))
	}
	// Lifted, the limit lets every call through.
	s.SetRateLimit("chat.postMessage", slacktest.RateLimit{})
	for range 10 {
		if err := post("C1"); err != nil {
			t.Fatalf("post with the limit lifted: %v", err)
		}
	}
}
