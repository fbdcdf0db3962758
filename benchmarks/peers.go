// Package benchmarks compares the module's primitives with their peers
// under contention. Peers used only here stay out of the library's go.mod.
package benchmarks

import (
	"context"
	"sync"

	"golang.org/x/sync/semaphore"
)

// A Locker is what the contended benchmarks drive; every implementation is
// adapted to it so that all pay the same interface call.
type Locker interface {
	Lock(ctx context.Context) error
	Unlock()
}

// SyncMutex adapts sync.Mutex (which cannot be cancelled) to Locker.
type SyncMutex struct{ mu sync.Mutex }

func (m *SyncMutex) Lock(context.Context) error { m.mu.Lock(); return nil }
func (m *SyncMutex) Unlock()                    { m.mu.Unlock() }

// ChanMutex is the usual cancellable mutex built on a channel of capacity
// one. Lock checks ctx first, as select picks at random between ready cases.
type ChanMutex chan struct{}

// NewChanMutex returns an unlocked ChanMutex.
func NewChanMutex() ChanMutex { return make(ChanMutex, 1) }

func (m ChanMutex) Lock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case m <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (m ChanMutex) Unlock() { <-m }

// XSyncMutex adapts a golang.org/x/sync semaphore of size 1 to Locker.
type XSyncMutex struct{ s *semaphore.Weighted }

// NewXSyncMutex returns an unlocked XSyncMutex.
func NewXSyncMutex() XSyncMutex { return XSyncMutex{semaphore.NewWeighted(1)} }

func (m XSyncMutex) Lock(ctx context.Context) error { return m.s.Acquire(ctx, 1) }
func (m XSyncMutex) Unlock()                        { m.s.Release(1) }

// An RWLocker is what the reader/writer benchmarks drive.
type RWLocker interface {
	Locker
	RLock(ctx context.Context) error
	RUnlock()
}

// SyncRWMutex adapts sync.RWMutex to RWLocker.
type SyncRWMutex struct{ mu sync.RWMutex }

func (m *SyncRWMutex) Lock(context.Context) error  { m.mu.Lock(); return nil }
func (m *SyncRWMutex) Unlock()                     { m.mu.Unlock() }
func (m *SyncRWMutex) RLock(context.Context) error { m.mu.RLock(); return nil }
func (m *SyncRWMutex) RUnlock()                    { m.mu.RUnlock() }

// ChanRWMutex is a cancellable reader/writer lock as it is commonly written
// with channels: a channel of capacity one is the write token, held either
// by one writer or by the readers as a group; the first reader in takes it
// and the last reader out gives it back, counting readers under a channel
// mutex so that every wait can be cancelled. It prefers readers: while
// readers keep overlapping, a writer waits without bound.
type ChanRWMutex struct {
	token   chan struct{} // the write token
	count   chan struct{} // a channel mutex guarding readers
	readers int
}

// NewChanRWMutex returns an unlocked ChanRWMutex.
func NewChanRWMutex() *ChanRWMutex {
	return &ChanRWMutex{token: make(chan struct{}, 1), count: make(chan struct{}, 1)}
}

func (m *ChanRWMutex) Lock(ctx context.Context) error { return acquire(ctx, m.token) }
func (m *ChanRWMutex) Unlock()                        { <-m.token }

func (m *ChanRWMutex) RLock(ctx context.Context) error {
	if err := acquire(ctx, m.count); err != nil {
		return err
	}
	defer func() { <-m.count }()
	if m.readers == 0 {
		if err := acquire(ctx, m.token); err != nil {
			return err
		}
	}
	m.readers++
	return nil
}

func (m *ChanRWMutex) RUnlock() {
	m.count <- struct{}{}
	if m.readers--; m.readers == 0 {
		<-m.token
	}
	<-m.count
}

// acquire sends on ch, a channel of capacity one, unless ctx ends first.
// It checks ctx first, as select picks at random between ready cases.
func acquire(ctx context.Context, ch chan struct{}) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case ch <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
