// Package redislock provides leases on locks kept in Redis: owned by a
// random token, renewed by a watchdog, signalled when lost, numbered by a
// fencing token, and handed by the release straight to the next waiter in
// a queue kept in Redis, in the order the waiters came.
//
// A [Client] wraps a go-redis client (standalone, Sentinel failover or
// Cluster), or with [NewRedlock] several independent servers of which a
// quorum must agree. [Client.Obtain] returns a [Lease];
// [Client.NewMutex] returns a [Mutex] that satisfies lock.Locker.
// [Client.NewSemaphore] returns a weighted [Semaphore] and
// [Client.NewRWMutex] a reader/writer lock, [RWMutex], whose holders have
// leases of their own, with the same watchdog, lost-lease signal, fencing
// token and direct handoff.
//
//	c, err := redislock.New(rdb) // rdb with ContextTimeoutEnabled: true
//	...
//	lease, err := c.Obtain(ctx, "invoice:42")
//	if err != nil { ... }
//	defer lease.Release(context.WithoutCancel(ctx))
//	work(lease.Context(), lease.Fence()) // stops when the lease is lost
//
// [Client.Do] does the same around a function.
//
// # Protocol
//
// The lock named name is the key prefix:{name}; its value is a token of 130
// bits from crypto/rand, new for every acquisition. Acquire and release
// are one Lua script, and extend another (embedded, sent with EVALSHA,
// reloaded on NOSCRIPT); each compares the token before acting, so a
// retried or stale release or extend never touches a later holder's lock,
// and a retried acquire that had in fact succeeded is recognised as ours.
// Expiries are relative (PX, PEXPIRE), on the server's clock. The fencing
// counter is the key prefix:{name}:fence, bumped by INCR for each new
// grant and never expired (see the section on fencing counters below);
// the braces keep every key of a lock in one Redis Cluster slot.
//
// An uncontended acquire is SET NX (with GET), an EXISTS of the queue and
// INCR; its release is GET, an LPOP of the queue that finds it empty, and
// DEL: two round trips, eight commands. An acquire that finds the lock
// held queues its token: the list prefix:{name}:waiters keeps the order of
// arrival, and the hash prefix:{name}:waiters:entries each waiter's entry:
// a deadline on the server's clock (the request's time plus the entry's
// lifetime, 3s or the lease TTL if shorter), the waiter's stamp of that
// request, and its Client's channel. A release with waiters queued hands
// the lock straight to the first live one, in the same script: it sets
// the key to that waiter's token until its entry's deadline, bumps the
// fence and publishes "token fence stamp" on the waiter's Client's
// channel, prefix:client: and 26 random characters, to which each Client
// subscribes, once, before its first waiter queues. The waiter holds the
// lock from then on: the handoff costs the holder's one round trip, one
// message, and no command of the waiter, whose lease is valid for the
// entry's lifetime from the send time of the request that set the entry
// (the stamp says which), minus the drift margin; its first renewal sets
// the full TTL, and a lease with a fixed TTL is extended to it at once.
//
// Entries ahead of the first live waiter whose deadline has passed are
// dropped. On a standalone server or through Sentinel, a PUBLISH that
// reached no subscriber means the waiter's Client is gone (its process
// died, or it was closed), and the same script hands the lock to the next
// waiter. On a Cluster the count covers one node's subscribers, so a grant
// to a waiter that is gone passes on when its entry's deadline passes, as
// it does everywhere for a waiter that is alive but silent (a stopped or
// partitioned process): the next waiter takes it at its queue refresh, or
// as the key expires. A waiter refreshes its entry every third of its
// lifetime; the refresh also finds a grant whose message was lost (the key
// holds its token: the refresh claims it), and a waiter checks at once
// when its Client's subscription breaks and when it is back. A grant that
// arrives too late to be proved by its stamp is claimed the same way. A
// waiter that gives up (its context ended, its Client closed) releases its
// token, which takes it off the queue or, if the lock was just handed to
// it, hands the lock on: within a round trip, not at the entry's deadline.
// While a live waiter is queued, nobody else takes a free lock (its key
// expired or was deleted without a release): the acquire script hands it
// to the first waiter instead, and refuses and queues the caller.
// TryObtain and Redlock waiters do not queue. A go-redis Ring subscribes
// on one of its shards, which receives only that shard's messages: waiters
// of locks on the other shards learn of their grants at their refresh.
//
// # Semaphores
//
// A semaphore called name keeps its state in keys that begin with
// prefix:{name}:sem, all in one Cluster slot: a hash of its size and
// fencing counter (no TTL, as a mutex's counter: see below), the holders'
// tokens, each scored by the deadline of its own lease, their weights,
// and the queue of waiters with their entries' deadlines, weights,
// stamps and channels. One script does every operation, and each call
// first reclaims, on the server's clock, the weight of the holders whose
// lease ended without a release (a process that died) and the entries
// of waiters that died, then grants waiters from the head of the queue as
// long as the head's weight fits: head-of-line blocking, as in package
// sem, so a large request is never starved by small ones behind it. A
// grant is a handoff, as a mutex's: the script makes the waiter a holder
// until its entry's deadline, bumps the fence and publishes "token fence
// stamp" to its Client. The holder of an idle semaphore (nobody else holds
// or waits) is kept in a key of its own, prefix:{name}:sem:solo, whose TTL
// is its lease, so that an uncontended acquire and release cost the
// server as many commands as a mutex's; the next call that finds it
// moves it among the others. Processes that share a semaphore or an RW
// lock must run the same version of this package: the layout of its keys
// is not stable across versions. A try ([Semaphore.TryAcquire]) never overtakes a
// waiter. Each waiting call queues on its own, even among goroutines of
// one Client, so a semaphore costs the server one entry refresh a second
// per waiting call. Weights and sizes go up to [MaxSemaphoreSize].
//
// The size is stored with the semaphore by the first call that reaches
// Redis, and only [Semaphore.Resize] changes it; a resize grants the
// waiters that now fit and refuses, with an error, those that can never
// fit. It revokes nothing.
//
// On a Redlock of N servers a semaphore of size n needs a lease on
// q = ⌊n·N/(n+1)⌋+1 servers, not a majority. Each server admits at most n
// holders, so n+1 holders, each on q servers, would need (n+1)·q > n·N
// places; a majority is not enough for n > 1 (with N = 3 and n = 2, three
// holders could each hold on two servers). The price is availability: q
// grows with n towards N, so a Redlock of 5 servers keeps a semaphore of
// size 2 or 3 (q = 4) through the loss of one server, and one of size 4
// or more (q = 5) through none; a lease that cannot reach q servers fails
// rather than over-admit. Every Client must use the size stored (each
// computes its quorum from its own), and a Resize that fails on some
// servers leaves them different: call it again until it succeeds. Redlock
// waiters poll, as a mutex's do.
//
// # Reader/writer locks
//
// An RW lock called name keeps its state in keys that begin with
// prefix:{name}:rw: its fencing counter (no TTL), the readers, each with
// the deadline of its own lease and its fence, the writer whose turn it
// is, the readers blocked by it, and the queue of writers with their
// entries. It is phase-fair, as package rw's RWMutex is: writers take
// turns in arrival order; the writer whose turn it is stops readers that
// arrive after it and waits only for the readers inside; when its phase
// ends (it releases, downgrades or gives up, or its lease or entry ends),
// every reader it stopped enters at once, by one grant message each, and
// the next writer's turn comes. A reader waits for at most one write
// phase; neither side starves. Every grant bumps the fence, so a reader's
// and a writer's fences are ordered as their grants were. A write lease
// can be turned into a read lease in place ([Lease.Downgrade]). The only
// holder of an idle lock, reader or writer, is kept in a key of its own,
// prefix:{name}:rw:solo, as a semaphore's is. On a
// Redlock a lease needs a majority, as a mutex's: every conflict involves
// a writer, and two majorities share a server.
//
// # Cancellation contract
//
// The rules of package lock hold, with what a remote lock adds:
//
//   - If ctx is done before a call that acquires (Obtain, TryObtain,
//     Mutex.Lock, Semaphore.Acquire, RWMutex.ObtainRead, and the others)
//     returns, the call fails with an error that satisfies
//     errors.Is(err, ctx.Err()) and errors.Is(err, context.Cause(ctx)),
//     and the caller holds nothing. An
//     acquire whose outcome is unknown (the reply was lost, came too late,
//     or ctx ended meanwhile) is undone by its token in the background
//     (one try of up to a second; failing that, the key expires with its
//     TTL), so it does not leave behind a lock that nobody holds.
//   - Every call returns by its context's deadline and as soon as it is
//     cancelled, even against a stalled server. go-redis honours deadlines
//     on sockets only with ContextTimeoutEnabled, which [New] therefore
//     requires, and never watches cancellation itself: a call under a
//     context that can be cancelled runs in a goroutine of the Client, which
//     finishes within the go-redis client's ReadTimeout after the caller
//     has returned (Close waits for it). Keep ReadTimeout and WriteTimeout
//     short, a second or so.
//   - Obtain's ctx also bounds the hold: when it ends, the lease ends and is
//     released; so do the contexts of Semaphore.Acquire and of the
//     RWMutex's Obtain calls. The contexts of Lock, RLock and
//     SemaphoreLocker.Lock bound only the wait.
//   - Leases have no goroutine of their own: one goroutine of the Client
//     renews them all (those due together in one pipelined round trip) and
//     ends them on time, and [Client.Close] ends every lease and waits for
//     every goroutine of the Client: that one, background cleanups, and
//     the Client's subscription.
//
// # Waiting and fairness
//
// Goroutines of one Client that wait for the same lock are served in FIFO
// order, and only the first of them talks to Redis. Between Clients (and
// processes) the order is FIFO too: that goroutine queues its token in
// Redis, and a release hands the lock to the first live waiter in the
// queue, which has it within about a round trip (see Protocol). A holder
// that dies without releasing is replaced when its key expires: the first
// waiter takes the lock then. A Client queues at most one token per lock,
// so a crowd of goroutines waiting in one Client costs the server one
// queue refresh a second. Redis restarted without persistence loses the
// queue with the keys: the waiters queue again, in the order of their
// next refreshes. Redlock waiters do not queue (a queue on each of the
// independent servers would hand the lock to different waiters, none with
// a quorum): they poll, with a jittered delay that grows from 10ms to
// 200ms, so they are not served in order.
//
// # What a Redis lock does not promise
//
// A lease is an efficiency lock: it keeps well-behaved processes from doing
// the same work twice. It does not, on its own, make a critical section
// exclusive, because the holder cannot know at every instant that it still
// holds the lock:
//
//   - Failover: Redis replication is asynchronous. A lock written to a
//     primary that fails before the replica copies it is absent on the
//     promoted replica, and a second client acquires it. Sentinel and
//     Cluster failovers do this; WAIT narrows the window but does not make
//     Redis strongly consistent.
//   - Restarts without persistence: a restarted server has no keys. The
//     holder's next renewal notices (Done closes within one renewal
//     interval), but until then another client may already hold the lock.
//     The fencing counter restarts too, unless AOF with appendfsync always
//     keeps it.
//   - Process pauses: a GC pause, SIGSTOP, swapping or a slow network can
//     stall the holder past its validity. The lease ends (Done closes), but
//     code that was already past its last check runs on while another holder
//     has the lock.
//   - Clocks: Redis expires keys by its wall clock; a clock jump on the
//     server shortens a lease. The local validity is measured on the
//     monotonic clock from before each request was sent, minus a 1% drift
//     margin, so only a jump of the server's clock, or clocks whose rates
//     differ by more than 1%, can betray it.
//
// For correctness, give the protected resource the lease's fencing token
// ([Lease.Fence]) with every write, and have the resource reject a token
// lower than one it has already accepted ([FencedSet] does this for a Redis
// key; a SQL store can do it with a conditional UPDATE). A stale holder's
// late write is then refused whatever paused it. The token is monotonic as
// long as Redis keeps its writes: a failover to a lagging replica or a
// restart without persistence can hand out a token again.
//
// # Fencing counters are permanent
//
// A lock's fencing counter, the key prefix:{name}:fence (lock:{name}:fence
// with the default prefix), has no TTL, on purpose: a counter that expired
// would start again at 1, and a resource that has accepted a higher token
// would refuse every later holder. Every lock name therefore leaves one
// small key behind for good, and an application that builds names from
// unbounded data ("invoice:" and an ID, say) leaves one per ID. The other
// keys of a lock (prefix:{name}, prefix:{name}:waiters and
// prefix:{name}:waiters:entries) expire by themselves. Delete the counter
// when a name is retired, that is, once no Client will take that lock
// again and no resource will be written under its tokens (after the
// invoice is deleted, say): DEL prefix:{name}:fence. Deleting it earlier
// restarts the sequence, with the effect of a restart without persistence.
//
// # Configuration
//
// A lease without options has a 30s TTL renewed every 10s by the Client's
// renewer until it is released ([WithWatchdog] changes both; the interval
// must be between 1ms and half the TTL); [WithTTL] gives a fixed TTL that only
// [Lease.Extend] renews, and is the way to turn the watchdog off;
// [WithMaxHold] bounds the hold time; [WithPrefix] sets the namespace. Run
// Redis with the default maxmemory-policy noeviction: any other policy can
// evict a held lock, and an allkeys-* policy also a fencing counter, which
// never expires and whose loss restarts its sequence.
//
// The package writes nothing to standard output or error. go-redis logs
// some failures itself, through its global logger, to standard error by
// default: "redis: connection pool: failed to dial after 5 attempts: ..."
// for each failed connection while a server is down, for instance. A
// program that wants them elsewhere, or not at all, calls redis.SetLogger
// once, in main; a library should leave it alone.
//
// # Misuse
//
// One mistake is a bug in the caller and panics, changing nothing, as with
// sync.Mutex:
//
//	Mutex.Unlock of a Mutex that is not locked (never, or no more)   "redislock: Unlock of unlocked Mutex"
//	SemaphoreLocker.Unlock of one that is not locked                 "redislock: Unlock of unlocked SemaphoreLocker"
//	RWMutex.Unlock without a Lock; RUnlock without an RLock          "redislock: Unlock of unlocked RWMutex",
//	                                                                 "redislock: RUnlock of unlocked RWMutex"
//
// A remote lock cannot always tell a second release from a lost lease, so
// every other mistake is an error, or a wait:
//
//	Release a second time; Mutex.Release of an unlocked Mutex         error wrapping lock.ErrNotHeld
//	Extend after Release, or after the lease ended                    error wrapping lock.ErrNotHeld
//	Release with a ctx that is done already                           the lease ends, the key is released in the
//	                                                                  background; error wrapping ctx.Err()
//	Release with the lease's own Context (or one derived from it)     not a mistake: it succeeds
//	empty name; name starting with '}'; prefix with a brace           error wrapping lock.ErrInvalidArgument
//	TTL under 10ms (zero, negative); watchdog interval outside        error wrapping lock.ErrInvalidArgument
//	1ms…TTL/2 (zero included); negative maximum hold
//	nil Redis client; one without ContextTimeoutEnabled               error wrapping lock.ErrInvalidArgument
//	one server twice in NewRedlock (same client, or same address)     error wrapping lock.ErrInvalidArgument
//	Do with a nil function                                            error wrapping lock.ErrInvalidArgument
//	FencedSet with a nil client, an empty key or a fence below 1      error wrapping lock.ErrInvalidArgument
//	semaphore size or weight below 1 or above MaxSemaphoreSize;       error wrapping lock.ErrInvalidArgument
//	a weight above the size stored (also after a Resize while it
//	waits)
//	Downgrade of a lease that is not an RWMutex's write lease, or     error wrapping lock.ErrInvalidArgument
//	a second time
//	RLock while this goroutine holds a read lock and a writer waits   waits until ctx is done, as sync.RWMutex
//	a panic in Do's function                                          the lock is released; the panic goes on
//	any call after Client.Close                                       error wrapping lock.ErrClosed
//	Obtain or Mutex.Lock of a lock that this Client holds             waits until ctx is done: not reentrant
//
// Options are checked where they are used: by New and NewRedlock for the
// Client's, by Obtain, TryObtain, Do, and the Mutex's Lock and TryLock
// for a call's; those of NewSemaphore and NewRWMutex (and their name and
// size) by every method of what they return.
//
// # Telemetry
//
// A Client records OpenTelemetry spans and metrics in the scope
// [ScopeName], through the providers of [WithTracerProvider] and
// [WithMeterProvider] (the global ones by default), with the instruments
// and attributes of package telemetry and lock.kind "redislock". Every
// acquisition (Obtain, TryObtain, Mutex.Lock and TryLock, once their
// arguments are valid) goes over the network, so every one is a span
// "acquire redislock" from the call to its outcome, counts as a waiter
// meanwhile, and is timed in lock.wait.duration and counted in
// lock.acquisitions by outcome, whether it had to wait or not; one that
// had to wait for another holder also has the event "lock contended" and
// counts in lock.contentions. Holders and hold times, lease renewals by
// outcome and leases lost are recorded too; a lost lease and a failed
// renewal are events on the span in the context given to Obtain (see
// [WithTracerProvider]). Semaphores record under lock.kind
// "redissemaphore", with their weights (an acquisition of weight 3 counts
// as 3 waiters, then 3 held), and RW locks under "redisrwmutex", with
// lock.mode read or write (a downgraded lease counts as a write holder
// until it ends). With both providers no-ops it records nothing. A
// [Mutex] has Release and Done, so package manager reports its failed
// releases and lost leases.
package redislock
