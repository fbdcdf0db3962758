package redislock

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/codomyrmex/concurrency/lock"
)

// rwKeys are the Redis names of one reader/writer lock, in the order of
// KEYS in lua/rw.lua: prefix:{name}:rw (the fencing counter, no TTL) and
// the keys that begin with it, solo (the only holder, uncontended) last.
type rwKeys struct {
	rw, readers, fences, writer, blocked, queue, deadlines, entries, solo string
}

func newRWKeys(base string) rwKeys {
	return rwKeys{rw: base, readers: base + ":readers", fences: base + ":fences", writer: base + ":writer",
		blocked: base + ":blocked", queue: base + ":queue", deadlines: base + ":deadlines", entries: base + ":entries",
		solo: base + ":solo"}
}

// An rwSide is one side of a reader/writer lock as lua/rw.lua sees it:
// its keys and the operation that acquires it (opRead or opWrite); it is
// the target of that side's leases.
type rwSide struct {
	name string
	k    *rwKeys
	op   any
}

func (s *rwSide) acquire(ctx context.Context, rdb redis.UniversalClient, c acquireCall) (int64, error) {
	k := s.k
	r, err := rwScript.evalInts(ctx, rdb, 9, &k.rw, &k.readers, &k.fences, &k.writer, &k.blocked, &k.queue, &k.deadlines, &k.entries, &k.solo,
		s.op, c.token, c.probe, c.ttl.arg, c.entry.arg, c.channel, c.stamp)
	if err != nil {
		return 0, err
	}
	switch {
	case len(r) == 2 && r[0] == 1:
		return r[1], nil
	case len(r) == 2 && r[0] == 0:
		return -2 - r[1], nil
	}
	return 0, fmt.Errorf("redislock: RW lock %q: %s replied %v", s.name, s.op, r)
}

func (s *rwSide) release(ctx context.Context, rdb redis.UniversalClient, c releaseCall) (int64, error) {
	k := s.k
	return rwScript.eval(ctx, rdb, 9, &k.rw, &k.readers, &k.fences, &k.writer, &k.blocked, &k.queue, &k.deadlines, &k.entries, &k.solo,
		opRelease, c.token, c.probe)
}

// renew returns c's renewal, or its downgrade if c.op is opDowngrade.
func (s *rwSide) renew(ctx context.Context, c extendCall) *redis.Cmd {
	k, op := s.k, c.op
	if op == nil {
		op = opRenew
	}
	return rwScript.cmd(ctx, 9, &k.rw, &k.readers, &k.fences, &k.writer, &k.blocked, &k.queue, &k.deadlines, &k.entries, &k.solo,
		op, c.token, c.probe, c.ttl.arg)
}

// quorum returns a majority: every conflict involves a writer, and two
// majorities share a server, whose script does not let a writer hold with
// anyone else.
func (s *rwSide) quorum(servers int) int { return majority(servers) }

func (s *rwSide) busy(name string, _ int64) error {
	if s.op == opRead {
		return fmt.Errorf("redislock: RW lock %q is held or awaited by a writer: %w", name, lock.ErrNotAcquired)
	}
	return fmt.Errorf("redislock: RW lock %q is held, or a writer waits: %w", name, lock.ErrNotAcquired)
}
