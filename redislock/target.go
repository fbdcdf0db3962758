package redislock

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/codomyrmex/concurrency/lock"
)

// A target is what an acquisition takes and a lease holds, and the calls
// of its script: a mutex (*keys: lua/lock.lua and lua/extend.lua), a share
// of a semaphore (*Semaphore: lua/sem.lua) or one side of a reader/writer
// lock (*rwSide: lua/rw.lua). Their replies decode alike (see obtained and
// acted), so that one acquisition, one renewer, one hub and the two
// transports serve all three.
type target interface {
	// acquire runs c, whose reply decodes with obtained.
	acquire(ctx context.Context, rdb redis.UniversalClient, c acquireCall) (int64, error)
	// release runs c, whose reply decodes with acted.
	release(ctx context.Context, rdb redis.UniversalClient, c releaseCall) (int64, error)
	// renew returns c's command, whose reply decodes with acted.
	renew(ctx context.Context, c extendCall) *redis.Cmd
	// quorum returns on how many of servers independent servers (a
	// Redlock) a lease must hold.
	quorum(servers int) int
	// busy returns the error of an attempt without waiting, to take weight
	// of the target called name, that found it taken.
	busy(name string, weight int64) error
}

// The mutex's target is its keys, which a lease keeps (see Lease.k).

func (k *keys) acquire(ctx context.Context, rdb redis.UniversalClient, c acquireCall) (int64, error) {
	return lockScript.eval(ctx, rdb, 4, &k.lock, &k.fence, &k.queue, &k.entries,
		opAcquire, c.token, c.probe, c.ttl.arg, c.entry.arg, c.channel, c.stamp)
}

func (k *keys) release(ctx context.Context, rdb redis.UniversalClient, c releaseCall) (int64, error) {
	return lockScript.eval(ctx, rdb, 4, &k.lock, &k.fence, &k.queue, &k.entries, opRelease, c.token, c.probe)
}

func (k *keys) renew(ctx context.Context, c extendCall) *redis.Cmd {
	return extendScript.cmd(ctx, 1, &k.lock, c.token, c.ttl.arg)
}

// quorum returns a majority: two majorities share a server, which grants
// the lock to one token at a time.
func (k *keys) quorum(servers int) int { return majority(servers) }

func (k *keys) busy(name string, _ int64) error {
	return fmt.Errorf("redislock: %q is held by another token: %w", name, lock.ErrNotAcquired)
}

// majority returns the least number of servers, of servers, that any two
// such sets share one of.
func majority(servers int) int { return servers/2 + 1 }
