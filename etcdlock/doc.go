// Package etcdlock provides leases on locks kept in etcd: linearizable
// through Raft, fenced by the revision of the holder's key, renewed by a
// watchdog that knows the lease's true deadline, signalled when lost, and
// handed to the next waiter by a watch rather than by polling.
//
// It is its own module, github.com/codomyrmex/concurrency/etcdlock, so
// that the etcd client's dependencies come only to programs that use it.
//
// A [Client] wraps a *clientv3.Client. [Client.Obtain] returns a [Lease];
// [Client.NewMutex] returns a [Mutex] that satisfies lock.Locker;
// [Client.Do] runs a function under the lock.
//
//	locks, err := etcdlock.New(cli)
//	...
//	lease, err := locks.Obtain(ctx, "invoice:42")
//	if err != nil { ... }
//	defer lease.Release(context.WithoutCancel(ctx))
//	work(lease.Context(), lease.Fence()) // stops when the lease is lost
//
// # Protocol
//
// Each acquisition grants its own etcd lease and puts a key attached to it
// under the lock's prefix: prefix + url.PathEscape(name) + "/" + the etcd
// lease ID in 16 hexadecimal digits (the default prefix is "lock/"). The
// put is a transaction that creates the key only if it does not exist, so
// a put retried after an ambiguous failure is recognised, and that reads
// the lock's oldest key in the same step. The oldest key, by create
// revision, holds the lock: callers are served first-come, first-served,
// across Clients and processes. A caller that is not first watches the key
// created just before its own and, once that is deleted, checks again in
// one linearizable read that its own key still exists and that no older
// one does; only then is it the holder. (etcd's own concurrency.Mutex once
// told a waiter whose lease had expired that it held the lock,
// etcd-io/etcd#11456; here a waiter whose key has gone starts again.)
// Release revokes the etcd lease, which deletes the key and wakes the one
// waiter behind it. An uncontended acquisition and release are three etcd
// writes, each a Raft round: the lease's grant, the key's put, and the
// revocation.
//
// The watchdog is the package's own, not the etcd client's keep-alive
// loop: it sends KeepAliveOnce every renewal interval and measures the
// lease's validity from the moment each request was *sent* (the etcd
// client measures from the reply's arrival and checks once a second, so
// its session can believe a lease live for up to a round trip plus a
// second after the server dropped it). It renews from the moment the key
// is queued, so a waiter keeps its place however long it waits. A holder
// also watches its own key, so a key deleted or expired on the server ends
// the lease within about a round trip.
//
// # Cancellation contract
//
// The rules of package lock hold, with what a remote lock adds:
//
//   - If ctx is done before Obtain, TryObtain or Mutex.Lock returns, the
//     call fails with an error that satisfies errors.Is(err, ctx.Err())
//     and errors.Is(err, context.Cause(ctx)), and the caller holds
//     nothing: its etcd lease is revoked in the background (one try of up
//     to a second; failing that, it expires with its TTL), which deletes
//     its key, so the waiters behind it move up and nothing is left
//     behind.
//   - Every call returns as soon as its context ends: etcd's client
//     honours cancellation on every call.
//   - Obtain's ctx also bounds the hold: when it ends, the lease ends and is
//     released. Mutex.Lock's ctx bounds only the wait.
//   - No goroutine outlives its lease: Release stops the lease's goroutine
//     and waits for it (unless Release's ctx ends first), and
//     [Client.Close] ends every lease and waits for every goroutine of the
//     Client, background revocations included.
//
// # What it guarantees, and what it does not
//
// etcd orders every write through Raft, so the queue of a lock is one
// linearizable sequence: two leases of one lock are never granted for
// keys that exist at the same revision, a leader change or the loss of a
// minority of members neither loses nor duplicates a grant, and a
// restarted member catches up before it serves. Fencing tokens
// ([Lease.Fence], the key's create revision) increase strictly from holder
// to holder and are never issued twice, across leader changes and
// restarts, as long as the cluster keeps its data.
//
// It does not make a critical section exclusive on its own, any more than
// any lease can: a holder paused (GC, SIGSTOP, swapping, a slow network)
// past its validity may go on working after etcd has expired its lease
// and granted the lock to the next waiter. Its Done channel closes when it
// runs again, but code that was already past its last check runs on. A
// lost majority stops the lock altogether (no grant, no release, no
// renewal: holders lose their leases when their validity runs out), as it
// stops etcd. A new leader extends every lease to its full TTL, so a
// holder may keep the lock longer than it believes, never shorter.
//
// For correctness, guard every write with the lease: for state kept in
// the same etcd cluster, write in a transaction that compares
// [Lease.IsOwner] (the key's create revision equals the fence), which
// etcd checks atomically with the write; for any other resource, pass
// [Lease.Fence] with the write and have the resource reject a token lower
// than one it has already accepted.
//
// # Configuration
//
// A lease without options has a 30s TTL renewed every 10s by its watchdog
// until it is released ([WithWatchdog] changes both; etcd leases are whole
// seconds, and the interval must be between 10ms and half the TTL);
// [WithTTL] gives a fixed TTL that only [Lease.Extend] renews once held;
// [WithMaxHold] bounds the hold time; [WithPrefix] sets the namespace;
// [WithMaxWaiters] bounds the waiters of one Client. etcd refuses leases
// shorter than one and a half election timeouts, rounded up to a second
// (2s with the default 1s election timeout; start etcd with
// --heartbeat-interval 50 --election-timeout 250 for leases of 1s); a
// longer TTL granted by the server is honoured as it is.
//
// # Misuse
//
// One mistake is a bug in the caller and panics, changing nothing, as with
// sync.Mutex:
//
//	Mutex.Unlock of a Mutex that is not locked (never, or no more)   "etcdlock: Unlock of unlocked Mutex"
//
// A remote lock cannot always tell a second release from a lost lease, so
// every other mistake is an error, or a wait:
//
//	Release a second time; Mutex.Release of an unlocked Mutex         error wrapping lock.ErrNotHeld
//	Extend after Release, or after the lease ended                    error wrapping lock.ErrNotHeld
//	Release with a ctx that is done already                           the lease ends, revoked in the background;
//	                                                                  error wrapping ctx.Err()
//	Release with the lease's own Context (or one derived from it)     not a mistake: it succeeds
//	empty name                                                        error wrapping lock.ErrInvalidArgument
//	TTL under 1s or not whole seconds; watchdog interval outside      error wrapping lock.ErrInvalidArgument
//	10ms…TTL/2; negative maximum hold
//	nil etcd client                                                   error wrapping lock.ErrInvalidArgument
//	Do with a nil function                                            error wrapping lock.ErrInvalidArgument
//	a panic in Do's function                                          the lock is released; the panic goes on
//	any call after Client.Close                                       error wrapping lock.ErrClosed
//	Obtain or Mutex.Lock of a lock that this Client holds             waits until ctx is done: not reentrant
//
// Options are checked where they are used: by New for the Client's, by
// Obtain, TryObtain, Do, and the Mutex's Lock and TryLock for a call's.
//
// # Telemetry
//
// A Client records OpenTelemetry spans and metrics in the scope
// [ScopeName], through the providers of [WithTracerProvider] and
// [WithMeterProvider] (the global ones by default), with the instruments
// and attributes of every lock of the module and lock.kind "etcdlock". Every
// acquisition (Obtain, TryObtain, Mutex.Lock and TryLock, once their
// arguments are valid) is a span "acquire etcdlock" from the call to its
// outcome, counts as a waiter meanwhile, and is timed in
// lock.wait.duration and counted in lock.acquisitions by outcome; one that
// had to wait for another holder also has the event "lock contended" and
// counts in lock.contentions. Holders and hold times, renewals of held
// leases by outcome and leases lost are recorded too. With both providers
// no-ops it records nothing.
package etcdlock
