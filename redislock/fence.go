package redislock

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/codomyrmex/concurrency/lock"
)

// ErrStaleFence reports a write rejected because a write with a higher
// fencing token was accepted before: the writer's lease has been lost and
// another holder has written since.
var ErrStaleFence = errors.New("redislock: stale fencing token")

// FencedSet writes value to the resource key guarded by a fencing token
// (from Lease.Fence): the write is accepted only if no write with a higher
// token has been accepted, and it fails with ErrStaleFence otherwise. The
// key is a hash with the fields "fence" (the highest token accepted) and
// "value"; read it with HGET key value.
//
// This is the check Kleppmann's fencing tokens need, done atomically by the
// store that holds the data: a holder paused past its lease (GC, SIGSTOP, a
// slow network) can no longer overwrite the work of the holder that came
// after it. Any store can do the same; in SQL, for example,
// UPDATE t SET v = $1, fence = $2 WHERE id = $3 AND fence <= $2, with the
// write rejected when no row changed. rdb may be a different Redis from the
// lock's, and usually should be: the resource is where the data lives.
// Tokens above 2^53 lose precision in Lua's numbers.
//
// A nil rdb, an empty key or a fence below 1 is an error wrapping
// lock.ErrInvalidArgument, and nothing is written: grants are numbered
// from 1, and a lease whose Fence is 0 (a Redlock lease) has no fencing
// token to guard a write with.
func FencedSet(ctx context.Context, rdb redis.Scripter, key string, fence int64, value string) error {
	switch {
	case isNil(rdb):
		return fmt.Errorf("redislock: fenced write with a nil Redis client %T: %w", rdb, lock.ErrInvalidArgument)
	case key == "":
		return fmt.Errorf("redislock: fenced write to an empty key: %w", lock.ErrInvalidArgument)
	case fence < 1:
		return fmt.Errorf("redislock: fenced write to %q with token %d, below 1 (a Redlock lease has no fencing token): %w", key, fence, lock.ErrInvalidArgument)
	}
	n, err := fencedSetScript.Run(ctx, rdb, []string{key}, fence, value).Int64()
	if err != nil {
		return fmt.Errorf("redislock: fenced write to %q: %w", key, err)
	}
	if n != 1 {
		return fmt.Errorf("redislock: fenced write to %q with token %d: %w", key, fence, ErrStaleFence)
	}
	return nil
}
