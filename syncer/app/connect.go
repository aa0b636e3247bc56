package app

import (
	"context"
	"sync"

	"github.com/zdsync/zdsync/syncer"
)

// LazyCaseStore is a syncer.CaseStore that logs in to Salesforce at its
// first use, and again at the next use after a failed login: a case push
// whose login fails is then an attempt that failed with the login's code,
// retried like any other failure of that code (4 and 5 are retried soon).
type LazyCaseStore struct {
	// Connect logs in (salesforce.New).
	Connect func(ctx context.Context) (syncer.CaseStore, error)

	mu sync.Mutex
	cs syncer.CaseStore
}

// store returns the logged-in store, logging in when it is not.
func (l *LazyCaseStore) store(ctx context.Context) (syncer.CaseStore, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cs != nil {
		return l.cs, nil
	}
	cs, err := l.Connect(ctx)
	if err != nil {
		return nil, err
	}
	l.cs = cs
	return cs, nil
}

// FindCase implements syncer.CaseStore.
func (l *LazyCaseStore) FindCase(ctx context.Context, ticketID int64) (syncer.Case, bool, error) {
	cs, err := l.store(ctx)
	if err != nil {
		return syncer.Case{}, false, err
	}
	return cs.FindCase(ctx, ticketID)
}

// CreateCase implements syncer.CaseStore.
func (l *LazyCaseStore) CreateCase(ctx context.Context, c syncer.Case) (string, error) {
	cs, err := l.store(ctx)
	if err != nil {
		return "", err
	}
	return cs.CreateCase(ctx, c)
}

// CloseCase implements syncer.CaseStore.
func (l *LazyCaseStore) CloseCase(ctx context.Context, caseID string) error {
	cs, err := l.store(ctx)
	if err != nil {
		return err
	}
	return cs.CloseCase(ctx, caseID)
}

// CaseStatuses implements syncer.CaseStore.
func (l *LazyCaseStore) CaseStatuses(ctx context.Context, caseIDs []string) (map[string]string, error) {
	cs, err := l.store(ctx)
	if err != nil {
		return nil, err
	}
	return cs.CaseStatuses(ctx, caseIDs)
}
