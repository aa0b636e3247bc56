package syncer_test

import (
	"context"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"

	"github.com/zdsync/zdsync/syncer"
	"github.com/zdsync/zdsync/syncer/sandbox"
)

// BenchmarkGlobalOrgsMemory100k syncs 100,000 accounts against 100,000
// orgs with no latency and no rate limit, and measures the heap that is
// live when the plan is made: every account and the plan (the orgs were
// compared as they were read and are gone). The fakes' own records are
// live before the run starts and are not counted. It reports live bytes
// per account and what 500,000 accounts would hold. The peak of the whole
// run, read included, is BenchmarkSyncProcessMemory's.
//
//	go test -run '^$' -bench GlobalOrgsMemory100k -benchtime 1x ./syncer/
//
// ZDSYNC_HEAP_PROFILE=file writes a heap profile taken at that moment.
func BenchmarkGlobalOrgsMemory100k(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		e := newEnv(b, sandbox.Options{Seed: 1, GlobalAccounts: 100_000, Missing: 0, Stale: 0.02, ExactShares: true,
			Foreign: -1, NoDeletions: true})
		var atPlan uint64
		e.r.Progress = func(_ syncer.Job, msg string) {
			if !strings.HasPrefix(msg, "plan:") {
				return
			}
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			atPlan = ms.HeapAlloc
			if path := os.Getenv("ZDSYNC_HEAP_PROFILE"); path != "" {
				f, err := os.Create(path)
				if err != nil {
					b.Fatal(err)
				}
				defer f.Close()
				if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
					b.Fatal(err)
				}
			}
		}
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		base := ms.HeapAlloc
		b.StartTimer()
		s := e.r.Run(context.Background(), syncer.JobGlobalOrgs, syncer.Options{})
		b.StopTimer()
		if !s.OK() || atPlan == 0 {
			b.Fatalf("run: %s (%s) %v", s.Headline(), s.Message, s.Errors)
		}
		perAccount := float64(atPlan-base) / float64(s.Fetched)
		b.ReportMetric(float64(s.Fetched), "accounts")
		b.ReportMetric(perAccount, "live-B/account")
		b.ReportMetric(perAccount*500_000/(1<<20), "500k-live-MiB")
		b.StartTimer()
	}
}
