package redislock

import (
	"context"
	"sync"

	"github.com/codomyrmex/concurrency/internal/lease"
	"github.com/codomyrmex/concurrency/internal/lockotel"
	"github.com/codomyrmex/concurrency/lock"
)

// kindRWMutex is the lock.kind of a reader/writer lock's telemetry; its
// lock.mode is read or write.
const kindRWMutex = "redisrwmutex"

// An RWMutex is a reader/writer lock kept in Redis: any number of read
// leases, or one write lease, hold it at a time (on a single deployment,
// within the limits of a Redis lock: see the package documentation). Each
// is the Lease of one holder, with its own token, its own expiry in
// Redis, a watchdog, a lost-lease signal and a fencing token. It is
// phase-fair, as package rw's RWMutex is: writers take turns in arrival
// order; the writer whose turn it is stops readers that arrive after it
// and waits only for the readers inside; when its write phase ends, every
// reader that waited in it enters at once. So a reader waits for at most
// one write phase, and a writer for the writers ahead of it and the
// readers inside when its turn came: neither side starves. See the
// package documentation, section Reader/writer locks, for the protocol
// and its keys.
//
// ObtainRead and ObtainWrite return leases, like Client.Obtain; Lock,
// Unlock, RLock, RUnlock and RLocker are the shapes of sync.RWMutex, for
// code written against sync.Locker, and lock.Locker. An RWMutex is safe
// for concurrent use.
type RWMutex struct {
	c            *Client
	k            rwKeys
	read, write  rwSide
	rspec, wspec spec // the acquisitions' of each side: name, target, options and recorder
	err          error

	w lease.Mutex[*Lease] // Lock's write lease

	mu      sync.Mutex
	readers []*Lease // RLock's read leases
}

var _ lock.Locker = (*RWMutex)(nil)

// NewRWMutex returns the reader/writer lock called name. The options
// override the Client's defaults for its leases; a bad name or option is
// reported by its methods.
func (c *Client) NewRWMutex(name string, opts ...Option) *RWMutex {
	cfg, err := c.config(opts)
	if err == nil {
		err = checkName(name)
	}
	m := &RWMutex{c: c, err: err, k: newRWKeys(cfg.base(name, "rw"))}
	m.read = rwSide{name: name, k: &m.k, op: opRead}
	m.write = rwSide{name: name, k: &m.k, op: opWrite}
	m.rspec = spec{name: name, t: &m.read, local: m.k.rw, weight: 1, cfg: cfg, rec: c.otel.Recorder(kindRWMutex, name, lockotel.ModeRead)}
	m.wspec = m.rspec
	m.wspec.t, m.wspec.rec = &m.write, c.otel.Recorder(kindRWMutex, name, lockotel.ModeWrite)
	m.w.InitTurn(backend, "RWMutex", name, err)
	return m
}

// Name returns the name of the lock.
func (m *RWMutex) Name() string { return m.read.name }

// ObtainRead takes the lock for reading and returns the lease: at once if
// no writer's turn has come, and otherwise once that writer's phase ends.
// A reader that waits has its own place in the lock's state in Redis
// (readers of one Client do not queue locally), and the end of the write
// phase grants every waiting reader at once, with one message to each
// one's Client. ctx bounds the wait and the hold, and the wait's bounds
// and errors are those of Client.Obtain.
func (m *RWMutex) ObtainRead(ctx context.Context) (*Lease, error) {
	return m.obtain(ctx, ctx, &m.rspec, true)
}

// ObtainWrite takes the lock for writing and returns the lease: it waits,
// in Redis, for the writers that came before it, one write phase each;
// then, its turn come, it stops readers that arrive after it and waits
// for the readers inside to leave. A writer that gives up while it waits
// for them ends its phase: the readers it stopped enter at once. ctx
// bounds the wait and the hold, and the wait's bounds and errors are those
// of Client.Obtain.
func (m *RWMutex) ObtainWrite(ctx context.Context) (*Lease, error) {
	return m.obtain(ctx, ctx, &m.wspec, true)
}

// TryObtainRead is ObtainRead without waiting: it fails with an error
// wrapping lock.ErrNotAcquired if a writer holds the lock or its turn has
// come.
func (m *RWMutex) TryObtainRead(ctx context.Context) (*Lease, error) {
	return m.obtain(ctx, ctx, &m.rspec, false)
}

// TryObtainWrite is ObtainWrite without waiting: it fails with an error
// wrapping lock.ErrNotAcquired if anyone holds the lock or a writer waits
// for it. It never takes a turn, so it stops no reader.
func (m *RWMutex) TryObtainWrite(ctx context.Context) (*Lease, error) {
	return m.obtain(ctx, ctx, &m.wspec, false)
}

func (m *RWMutex) obtain(ctx, holdCtx context.Context, s *spec, wait bool) (*Lease, error) {
	if m.err != nil {
		return nil, m.err
	}
	return m.c.acquire(ctx, holdCtx, s, wait)
}

// Lock locks m for writing, as ObtainWrite does, except that ctx bounds
// only the wait: the lease lasts until Unlock. It also waits while m is
// locked for writing already, as sync.RWMutex's does: m keeps one write
// lease at a time. It returns nil if and only if m is now write-locked
// through m.
func (m *RWMutex) Lock(ctx context.Context) error {
	return m.w.Lock(ctx, m.obtainWrite(true))
}

// TryLock locks m for writing if nobody holds or waits for it, without
// waiting; it returns an error wrapping lock.ErrNotAcquired otherwise,
// also when m is write-locked already. See TryObtainWrite.
func (m *RWMutex) TryLock(ctx context.Context) error {
	return m.w.TryLock(ctx, m.obtainWrite(false))
}

func (m *RWMutex) obtainWrite(wait bool) func(context.Context) (*Lease, error) {
	return func(ctx context.Context) (*Lease, error) {
		return m.obtain(ctx, context.WithoutCancel(ctx), &m.wspec, wait)
	}
}

// Unlock releases m's write lease, waiting at most a second for Redis; if
// that fails, the lease expires with its TTL. It panics with "redislock:
// Unlock of unlocked RWMutex" if m is not locked for writing.
func (m *RWMutex) Unlock() { m.w.Unlock((*Lease).unlock) }

// RLock locks m for reading, as ObtainRead does, except that ctx bounds
// only the wait: the lease lasts until an RUnlock. Any number of RLocks
// may hold m at once; it returns nil if and only if one more read lease
// now holds m. As with sync.RWMutex, a goroutine that holds a read lock
// must not RLock again: a writer whose turn came in between waits for the
// first read lease, and the second waits for the writer.
func (m *RWMutex) RLock(ctx context.Context) error {
	l, err := m.obtain(ctx, context.WithoutCancel(ctx), &m.rspec, true)
	if err != nil {
		return err
	}
	m.hold(l)
	return nil
}

// TryRLock locks m for reading if no writer holds it or has its turn,
// without waiting; it returns an error wrapping lock.ErrNotAcquired
// otherwise. See TryObtainRead.
func (m *RWMutex) TryRLock(ctx context.Context) error {
	l, err := m.obtain(ctx, context.WithoutCancel(ctx), &m.rspec, false)
	if err != nil {
		return err
	}
	m.hold(l)
	return nil
}

func (m *RWMutex) hold(l *Lease) {
	m.mu.Lock()
	m.readers = append(m.readers, l)
	m.mu.Unlock()
}

// RUnlock releases one of m's read leases (an RWMutex does not know which
// goroutine took which), waiting at most a second for Redis; if that
// fails, the lease expires with its TTL. It panics with "redislock:
// RUnlock of unlocked RWMutex" if m holds no read lease.
func (m *RWMutex) RUnlock() {
	m.mu.Lock()
	n := len(m.readers)
	if n == 0 {
		m.mu.Unlock()
		panic("redislock: RUnlock of unlocked RWMutex")
	}
	l := m.readers[n-1]
	m.readers[n-1] = nil
	m.readers = m.readers[:n-1]
	m.mu.Unlock()
	l.unlock()
}

// RLocker returns the read side of m as a lock.Locker: its Lock calls
// m.RLock and its Unlock m.RUnlock.
func (m *RWMutex) RLocker() lock.Locker { return rlocker{m} }

type rlocker struct{ m *RWMutex }

func (r rlocker) Lock(ctx context.Context) error { return r.m.RLock(ctx) }
func (r rlocker) Unlock()                        { r.m.RUnlock() }

// LockKind returns "redisrwmutex", the lock.kind under which the lock
// records its telemetry, with lock.mode read or write.
func (m *RWMutex) LockKind() string { return kindRWMutex }
