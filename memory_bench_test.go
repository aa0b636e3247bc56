package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zdsync/zdsync/syncer"
	"github.com/zdsync/zdsync/syncer/sandbox"
)

// BenchmarkSyncProcessMemory runs `zdsync sync global-orgs --json` as its
// own process (the built binary) against a sandbox of
// ZDSYNC_BENCH_ACCOUNTS accounts (default 100,000; each with its org, 2%
// of them stale), with GOMEMLIMIT=ZDSYNC_BENCH_GOMEMLIMIT (default 900MiB:
// what deploy/kubernetes.yaml sets under its 1 GiB limit), and reports
// the process's peak resident memory: the number that decides whether a
// sync of that size fits its container. The sandbox lives in this process,
// so its memory is not counted.
//
//	ZDSYNC_BENCH_ACCOUNTS=500000 go test -run '^$' -bench SyncProcessMemory -benchtime 1x -timeout 30m .
func BenchmarkSyncProcessMemory(b *testing.B) {
	accounts := 100_000
	if v := os.Getenv("ZDSYNC_BENCH_ACCOUNTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatalf("ZDSYNC_BENCH_ACCOUNTS: %v", err)
		}
		accounts = n
	}
	limit := "900MiB"
	if v, ok := os.LookupEnv("ZDSYNC_BENCH_GOMEMLIMIT"); ok {
		limit = v
	}
	dir := b.TempDir()
	bin := filepath.Join(dir, "zdsync")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	sb, err := sandbox.Start(context.Background(), sandbox.Options{Seed: 1, GlobalAccounts: accounts, Stale: 0.02,
		ExactShares: true, Foreign: -1, NoDeletions: true, Now: time.Now()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(sb.Close)
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "DATABASE_URL=" + filepath.Join(dir, "zdsync.db"),
		"ZENDESK_RATE_LIMIT=1000000", "LOG_LEVEL=warn"}
	if limit != "" {
		env = append(env, "GOMEMLIMIT="+limit)
	}
	for k, v := range sb.Env() {
		env = append(env, k+"="+v)
	}
	for b.Loop() {
		cmd := exec.Command(bin, "sync", "global-orgs", "--json")
		cmd.Env = env
		cmd.Stderr = os.Stderr
		var stdout bytes.Buffer
		cmd.Stdout = &stdout
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		// The kernel's high-water mark of the process's resident memory,
		// read until it exits (rusage's Maxrss would count this process's
		// memory too: the child starts as a vfork of it).
		var peakKiB atomic.Int64
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				kib, ok := vmHWM(cmd.Process.Pid) // false once it has exited
				if !ok {
					return
				}
				peakKiB.Store(kib)
				time.Sleep(10 * time.Millisecond)
			}
		}()
		err := cmd.Wait()
		<-done
		out := stdout.Bytes()
		if err != nil {
			b.Fatalf("zdsync sync: %v\n%s", err, out)
		}
		var s syncer.Summary
		if err := json.Unmarshal(out, &s); err != nil || s.Fetched < accounts {
			b.Fatalf("summary %q: %v", out, err)
		}
		peak := float64(peakKiB.Load()) / 1024
		b.ReportMetric(float64(s.Fetched), "accounts")
		b.ReportMetric(float64(s.Updated), "updated")
		b.ReportMetric(peak, "peak-RSS-MiB")
		b.ReportMetric(peak*(1<<20)/float64(s.Fetched), "peak-RSS-B/account")
	}
}

// vmHWM returns the peak resident memory of process pid in KiB, from
// /proc/pid/status; false once the process is gone.
func vmHWM(pid int) (int64, bool) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kib, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kib, err == nil && kib > 0
		}
	}
	return 0, false
}
