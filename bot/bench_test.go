package bot_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/zdsync/zdsync/bot"
	"github.com/zdsync/zdsync/bot/slacktest"
)

// BenchmarkSlashCommandAck measures the time from a slash command's
// envelope leaving the fake Slack to its ack arriving back, with 50
// commands in flight at once, and reports the p50 and p99 latency in
// milliseconds (Slack allows bot.AckDeadline).
func BenchmarkSlashCommandAck(b *testing.B) {
	h := newHarness(b)
	const concurrent = 50
	var (
		mu   sync.Mutex
		lats []time.Duration
	)
	b.ResetTimer()
	for b.Loop() {
		var wg sync.WaitGroup
		for range concurrent {
			wg.Go(func() {
				sent := time.Now()
				x, err := h.srv.SendSlashCommand(h.ctx, slacktest.SlashCommand{User: reader, Text: "run global-orgs --dry-run"})
				if err != nil {
					b.Error(err)
					return
				}
				ack, err := x.Ack(h.ctx)
				if err != nil {
					b.Error(err)
					return
				}
				mu.Lock()
				lats = append(lats, ack.At.Sub(sent))
				mu.Unlock()
				if _, err := x.Responses(h.ctx, 1); err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
	}
	b.StopTimer()
	slices.Sort(lats)
	if len(lats) == 0 {
		return
	}
	p := func(q float64) float64 {
		return float64(lats[min(len(lats)-1, int(q*float64(len(lats))))].Microseconds()) / 1000
	}
	b.ReportMetric(p(0.50), "p50-ack-ms")
	b.ReportMetric(p(0.99), "p99-ack-ms")
	b.ReportMetric(float64(bot.AckDeadline.Milliseconds())/p(0.99), "deadline/p99")
	b.ReportMetric(0, "ns/op")
}
