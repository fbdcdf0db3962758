package redislock

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/redis/go-redis/v9"

	"github.com/codomyrmex/concurrency/lock"
)

// semTarget is a semaphore as lua/sem.lua sees it: its keys and the size
// its calls pass; it is the target of the semaphore's leases.
type semTarget struct {
	name string
	k    semKeys
	size atomic.Pointer[sizeArg] // ARGV[4]: the Semaphore's size
}

// semKeys are the Redis names of one semaphore, in the order of KEYS in
// lua/sem.lua: prefix:{name}:sem (size and fencing counter, no TTL) and
// the keys that begin with it.
type semKeys struct {
	sem, holders, weights, queue, deadlines, wants, entries, solo string
}

func newSemKeys(base string) semKeys {
	return semKeys{sem: base, holders: base + ":holders", weights: base + ":weights", queue: base + ":queue",
		deadlines: base + ":deadlines", wants: base + ":wants", entries: base + ":entries", solo: base + ":solo"}
}

// A sizeArg is a size and the same boxed once, for the scripts.
type sizeArg struct {
	n   int64
	arg any
}

func (t *semTarget) setSize(n int64) { t.size.Store(&sizeArg{n, n}) }

// sizeOf returns the size the semaphore's calls pass.
func (t *semTarget) sizeOf() int64 { return t.size.Load().n }

func (t *semTarget) acquire(ctx context.Context, rdb redis.UniversalClient, c acquireCall) (int64, error) {
	k := &t.k
	r, err := semScript.evalInts(ctx, rdb, 8, &k.sem, &k.holders, &k.weights, &k.queue, &k.deadlines, &k.wants, &k.entries, &k.solo,
		opAcquire, c.token, c.probe, t.size.Load().arg, c.ttl.arg, c.weight, c.entry.arg, c.channel, c.stamp)
	if err != nil {
		return 0, err
	}
	if len(r) != 2 {
		return 0, fmt.Errorf("redislock: semaphore %q: acquire replied %v", t.name, r)
	}
	switch r[0] {
	case 1:
		return r[1], nil
	case 0:
		return -2 - r[1], nil
	default:
		return 0, weightError(t.name, c.weight.(int64), r[1])
	}
}

func (t *semTarget) release(ctx context.Context, rdb redis.UniversalClient, c releaseCall) (int64, error) {
	k := &t.k
	return semScript.eval(ctx, rdb, 8, &k.sem, &k.holders, &k.weights, &k.queue, &k.deadlines, &k.wants, &k.entries, &k.solo,
		opRelease, c.token, c.probe, t.size.Load().arg)
}

func (t *semTarget) renew(ctx context.Context, c extendCall) *redis.Cmd {
	k := &t.k
	return semScript.cmd(ctx, 8, &k.sem, &k.holders, &k.weights, &k.queue, &k.deadlines, &k.wants, &k.entries, &k.solo,
		opRenew, c.token, c.probe, t.size.Load().arg, c.ttl.arg)
}

// quorum returns semaphoreQuorum for the size the semaphore's calls pass.
func (t *semTarget) quorum(servers int) int { return semaphoreQuorum(t.sizeOf(), servers) }

func (t *semTarget) busy(name string, weight int64) error {
	return fmt.Errorf("redislock: weight %d of semaphore %q is not free, or others wait: %w", weight, name, lock.ErrNotAcquired)
}

// weightError is the error of a weight above a semaphore's size.
func weightError(name string, weight, size int64) error {
	return fmt.Errorf("redislock: weight %d exceeds the size %d of semaphore %q: %w", weight, size, name, lock.ErrInvalidArgument)
}

// queryCall is a call of lua/sem.lua's resize (with size) or stat, whose
// reply is {size, weight held, waiters, holders}.
type queryCall struct {
	t     *semTarget
	op    any // opResize or opStat
	size  any // int64: resize's new size; nil for stat
	probe any
}

func (c queryCall) run(ctx context.Context, rdb redis.UniversalClient) ([]int64, error) {
	k, size := &c.t.k, c.size
	if size == nil {
		size = c.t.size.Load().arg
	}
	r, err := semScript.evalInts(ctx, rdb, 8, &k.sem, &k.holders, &k.weights, &k.queue, &k.deadlines, &k.wants, &k.entries, &k.solo,
		c.op, noToken, c.probe, size)
	if err == nil && len(r) != 4 {
		err = fmt.Errorf("redislock: semaphore %q replied %v", c.t.name, r)
	}
	return r, err
}
