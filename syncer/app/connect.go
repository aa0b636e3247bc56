package app

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/zdsync/zdsync/syncer"
)

// SalesforceClient is everything zdsync asks of Salesforce: the sync jobs'
// queries, the case push, and the API allowance. *salesforce.Client
// implements it.
type SalesforceClient interface {
	syncer.Salesforce
	syncer.CaseStore
	syncer.AllowanceReader
}

// LazySalesforce is a SalesforceClient that logs in at its first use, and
// again at the next use after a failed login: a run or a case push whose
// login fails is then a run that failed with the login's code (a push
// retries 4 and 5 soon), and serve starts while Salesforce is down.
type LazySalesforce struct {
	// Connect logs in (salesforce.New).
	Connect func(ctx context.Context) (SalesforceClient, error)

	mu sync.Mutex
	c  SalesforceClient
}

// Verify that LazySalesforce can stand in for the client.
var _ SalesforceClient = (*LazySalesforce)(nil)

// current returns the client if it is logged in, without logging in.
func (l *LazySalesforce) current() SalesforceClient {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.c
}

// Login logs in unless the client is logged in already.
func (l *LazySalesforce) Login(ctx context.Context) error {
	_, err := l.client(ctx)
	return err
}

// client returns the logged-in client, logging in when it is not.
func (l *LazySalesforce) client(ctx context.Context) (SalesforceClient, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.c != nil {
		return l.c, nil
	}
	c, err := l.Connect(ctx)
	if err != nil {
		return nil, err
	}
	l.c = c
	return c, nil
}

// Accounts implements syncer.Salesforce.
func (l *LazySalesforce) Accounts(ctx context.Context, scope syncer.Scope, accountID string) ([]syncer.Account, error) {
	c, err := l.client(ctx)
	if err != nil {
		return nil, err
	}
	return c.Accounts(ctx, scope, accountID)
}

// FederalContacts implements syncer.Salesforce.
func (l *LazySalesforce) FederalContacts(ctx context.Context, accountID string) ([]syncer.Contact, error) {
	c, err := l.client(ctx)
	if err != nil {
		return nil, err
	}
	return c.FederalContacts(ctx, accountID)
}

// AccountConditions implements syncer.QueryConditions.
func (l *LazySalesforce) AccountConditions(ctx context.Context, accountID string) (syncer.AccountConditions, error) {
	c, err := l.client(ctx)
	if err != nil {
		return syncer.AccountConditions{}, err
	}
	return c.AccountConditions(ctx, accountID)
}

// Modified implements syncer.ChangeSource.
func (l *LazySalesforce) Modified(ctx context.Context, job syncer.Job, since time.Time) ([]syncer.Modified, error) {
	c, err := l.client(ctx)
	if err != nil {
		return nil, err
	}
	return c.Modified(ctx, job, since)
}

// AccountsByID implements syncer.ChangeSource.
func (l *LazySalesforce) AccountsByID(ctx context.Context, scope syncer.Scope, ids []string) ([]syncer.Account, error) {
	c, err := l.client(ctx)
	if err != nil {
		return nil, err
	}
	return c.AccountsByID(ctx, scope, ids)
}

// FederalContactsByAccount implements syncer.ChangeSource.
func (l *LazySalesforce) FederalContactsByAccount(ctx context.Context, ids []string) ([]syncer.Contact, error) {
	c, err := l.client(ctx)
	if err != nil {
		return nil, err
	}
	return c.FederalContactsByAccount(ctx, ids)
}

// FederalContactsByEmail implements syncer.ChangeSource.
func (l *LazySalesforce) FederalContactsByEmail(ctx context.Context, emails []string) ([]syncer.Contact, error) {
	c, err := l.client(ctx)
	if err != nil {
		return nil, err
	}
	return c.FederalContactsByEmail(ctx, emails)
}

// LastAllowance implements syncer.AllowanceReader: what Salesforce last
// reported, unknown while the client has not logged in.
func (l *LazySalesforce) LastAllowance() (syncer.APIAllowance, time.Time, bool) {
	c := l.current()
	if c == nil {
		return syncer.APIAllowance{}, time.Time{}, false
	}
	return c.LastAllowance()
}

// FindCase implements syncer.CaseStore.
func (l *LazySalesforce) FindCase(ctx context.Context, ticketID int64) (syncer.Case, bool, error) {
	c, err := l.client(ctx)
	if err != nil {
		return syncer.Case{}, false, err
	}
	return c.FindCase(ctx, ticketID)
}

// CreateCase implements syncer.CaseStore.
func (l *LazySalesforce) CreateCase(ctx context.Context, cs syncer.Case) (string, error) {
	c, err := l.client(ctx)
	if err != nil {
		return "", err
	}
	return c.CreateCase(ctx, cs)
}

// CloseCase implements syncer.CaseStore.
func (l *LazySalesforce) CloseCase(ctx context.Context, caseID string) error {
	c, err := l.client(ctx)
	if err != nil {
		return err
	}
	return c.CloseCase(ctx, caseID)
}

// CaseStatuses implements syncer.CaseStore.
func (l *LazySalesforce) CaseStatuses(ctx context.Context, caseIDs []string) (map[string]string, error) {
	c, err := l.client(ctx)
	if err != nil {
		return nil, err
	}
	return c.CaseStatuses(ctx, caseIDs)
}

// APIAllowance implements syncer.AllowanceReader.
func (l *LazySalesforce) APIAllowance(ctx context.Context) (syncer.APIAllowance, error) {
	c, err := l.client(ctx)
	if err != nil {
		return syncer.APIAllowance{}, err
	}
	return c.APIAllowance(ctx)
}

// Dependency is an outside system serve needs for part of its work: its
// name (which its alert is grouped under, as its job) and a check that
// logs in to it or makes one cheap call.
type Dependency struct {
	Name  syncer.Job
	Check func(ctx context.Context) error
}

// The backoff of Watcher's checks of a dependency that is down.
const (
	dependencyBackoffFirst = time.Second
	dependencyBackoffMax   = time.Minute
)

// Watcher checks serve's dependencies as serve starts: serve does not wait
// for them, and one that is down is checked again with backoff (1 s,
// doubling, up to a minute) until it answers. The first failure of each
// raises one alert (grouped under the dependency's name, across
// replicas), resolved when it answers; until then Down names it, so that
// the work that needs it (case pushes) waits instead of failing.
type Watcher struct {
	Deps []Dependency
	// Alert raises an alert (bot.Notifier.Alert); Resolve resolves the
	// alerts of a job (bot.Notifier.Resolve). Either may be nil.
	Alert   func(ctx context.Context, s *syncer.Summary) error
	Resolve func(ctx context.Context, job syncer.Job) error
	// Answered, if set, is told when a dependency that was down answers
	// (to release the work it held).
	Answered func(ctx context.Context, name syncer.Job)
	// Sleep waits between checks; nil is syncer.Sleep.
	Sleep func(ctx context.Context, d time.Duration) error
	Log   *slog.Logger

	mu   sync.Mutex
	down map[syncer.Job]error
}

// Run checks every dependency until each answered once, or ctx ends.
func (w *Watcher) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, d := range w.Deps {
		wg.Go(func() { w.watch(ctx, d) })
	}
	wg.Wait()
}

// Down returns the error of the first of names that is down (it failed
// its last check), or nil.
func (w *Watcher) Down(names ...syncer.Job) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, n := range names {
		if err := w.down[n]; err != nil {
			return err
		}
	}
	return nil
}

// States returns the state of each dependency: nil when it answered (or
// is being checked for the first time), else its last error.
func (w *Watcher) States() map[syncer.Job]error {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[syncer.Job]error{}
	for _, d := range w.Deps {
		out[d.Name] = w.down[d.Name]
	}
	return out
}

func (w *Watcher) set(name syncer.Job, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.down == nil {
		w.down = map[syncer.Job]error{}
	}
	w.down[name] = err
}

// watch checks one dependency until it answers.
func (w *Watcher) watch(ctx context.Context, d Dependency) {
	log := w.log().With("dependency", d.Name)
	sleep := w.Sleep
	if sleep == nil {
		sleep = syncer.Sleep
	}
	alerted := false
	for backoff := dependencyBackoffFirst; ; backoff = min(2*backoff, dependencyBackoffMax) {
		err := d.Check(ctx)
		if ctx.Err() != nil {
			return
		}
		w.set(d.Name, err)
		if err == nil {
			if alerted {
				log.Info("dependency answers again")
				if w.Answered != nil {
					w.Answered(ctx, d.Name)
				}
				if w.Resolve != nil {
					if err := w.Resolve(context.WithoutCancel(ctx), d.Name); err != nil {
						log.Warn("resolve dependency alert", "err", err)
					}
				}
			}
			return
		}
		log.Warn("dependency down; serving without it and checking again", "err", err, "in", backoff.String())
		if !alerted && w.Alert != nil {
			alerted = true
			now := time.Now()
			s := syncer.NewSummary(d.Name, now)
			s.Fail(err)
			s.Message = fmt.Sprintf("zdsync started without %s: %s. Webhooks are still accepted and queued, and the work that needs it waits; zdsync tries again with backoff and resolves this alert when it answers.",
				d.Name, syncer.ErrorMessage(err))
			s.Finish(now)
			if err := w.Alert(ctx, s); err != nil {
				log.Warn("alert dependency down", "err", err)
			}
		}
		if sleep(ctx, backoff) != nil {
			return
		}
	}
}

func (w *Watcher) log() *slog.Logger {
	if w.Log != nil {
		return w.Log
	}
	return slog.New(slog.DiscardHandler)
}
