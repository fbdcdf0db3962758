package etcdlock

import (
	"context"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/codomyrmex/concurrency/internal/ctxerr"
)

// The queue of a lock is the set of keys under its prefix, one per waiter
// or holder, each attached to the etcd lease of its acquisition. They are
// ordered by create revision: the oldest holds the lock, and each of the
// others waits for the deletion of the one created just before it.

// enqueue puts l's key, unless a retried put has done so already, and
// returns the key's create revision, whether it is the oldest key of the
// lock, and the revision at which that was read.
func (c *Client) enqueue(ctx context.Context, l *Lease) (rev int64, first bool, seen int64, err error) {
	owner := clientv3.OpGet(l.dir, clientv3.WithFirstCreate()...)
	r, err := c.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(l.key), "=", 0)).
		Then(clientv3.OpPut(l.key, "", clientv3.WithLease(l.id)), owner).
		Else(clientv3.OpGet(l.key), owner).
		Commit()
	if err != nil {
		return 0, false, 0, err
	}
	rev = r.Header.Revision
	if !r.Succeeded {
		rev = r.Responses[0].GetResponseRange().Kvs[0].CreateRevision
	}
	kvs := r.Responses[1].GetResponseRange().Kvs
	return rev, len(kvs) > 0 && kvs[0].CreateRevision == rev, r.Header.Revision, nil
}

// waitTurn waits until l's key, created at revision rev, is the oldest of
// the lock's keys, and returns the revision at which it was seen to be.
// Each check reads l's key and its predecessor in one transaction: a key
// that has gone (its etcd lease expired while it waited) is never taken
// for the holder, which etcd's own lock once did (etcd-io/etcd#11456); it
// returns an error wrapping errRequeue instead.
func (c *Client) waitTurn(ctx context.Context, l *Lease, rev int64) (int64, error) {
	backoff := minBackoff
	pred := append(clientv3.WithLastCreate(), clientv3.WithMaxCreateRev(rev-1))
	for {
		r, err := c.cli.Txn(ctx).Then(clientv3.OpGet(l.key), clientv3.OpGet(l.dir, pred...)).Commit()
		if err != nil {
			if cerr := ctxerr.From(ctx); cerr != nil {
				return 0, cerr
			}
			if !retryable(err) {
				return 0, err
			}
			if err := c.sleep(ctx, jitter(backoff)); err != nil {
				return 0, err
			}
			backoff = min(2*backoff, maxBackoff)
			continue
		}
		backoff = minBackoff
		mine := r.Responses[0].GetResponseRange().Kvs
		if len(mine) == 0 || mine[0].CreateRevision != rev {
			return 0, fmt.Errorf("%w: its key %q is gone", errRequeue, l.key)
		}
		before := r.Responses[1].GetResponseRange().Kvs
		if len(before) == 0 {
			return r.Header.Revision, nil
		}
		p := before[0]
		if err := c.waitDelete(ctx, string(p.Key), p.CreateRevision, r.Header.Revision); err != nil {
			return 0, err
		}
	}
}

// waitDelete waits until key, created at revision created and seen to
// exist at revision seen, is deleted: one watch on one key, so a release
// wakes only the waiter behind it. It returns nil once the key is gone (or
// has been created anew), or an error if ctx ends or etcd fails otherwise
// than by being unavailable for a while.
//
// The watch requires a leader, so that a member cut off from the cluster
// does not keep it waiting in silence; whenever the watch ends without an
// event (no leader, a lost connection), the key is read again and a new
// watch starts.
func (c *Client) waitDelete(ctx context.Context, key string, created, seen int64) error {
	backoff := minBackoff
	for {
		if gone := c.watchDelete(ctx, key, created, &seen); gone {
			return nil
		}
		if err := ctxerr.From(ctx); err != nil {
			return err
		}
		r, err := c.cli.Get(ctx, key)
		if err != nil {
			if cerr := ctxerr.From(ctx); cerr != nil {
				return cerr
			}
			if !retryable(err) {
				return err
			}
			if err := c.sleep(ctx, jitter(backoff)); err != nil {
				return err
			}
			backoff = min(2*backoff, maxBackoff)
			continue
		}
		if len(r.Kvs) == 0 || r.Kvs[0].CreateRevision != created {
			return nil
		}
		if r.Header.Revision <= seen {
			// The watch ended without news since the last read:
			// do not spin against a member without a leader.
			if err := c.sleep(ctx, jitter(backoff)); err != nil {
				return err
			}
			backoff = min(2*backoff, maxBackoff)
		} else {
			backoff = minBackoff
		}
		seen = r.Header.Revision
	}
}

// watchDelete watches key, created at revision created and seen to exist
// at revision *seen, until it sees it deleted, which it reports, or the
// watch ends.
//
// The watch starts at the member's current revision, not after the last
// read: etcd serves a watch that starts behind its current revision (one
// that is "unsynced") only from a loop that runs every 100ms, so a watch
// from *seen+1 would wake the waiter up to 100ms late whenever any other
// write reached etcd after that read. (etcd reads its revision just before
// it registers the watch, so a write that lands in between still leaves a
// watch behind now and then: about one in a hundred with four workers
// contending.) No deletion is missed in between: once etcd confirms the
// watch, which reports every event after the revision of its
// confirmation, the key is read again (one linearizable read, skipped when
// that revision is not after *seen), and a key already gone ends the wait.
func (c *Client) watchDelete(ctx context.Context, key string, created int64, seen *int64) bool {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	wch := c.cli.Watch(wctx, key, clientv3.WithFilterPut(), clientv3.WithCreatedNotify())
	defer func() {
		cancel()
		for range wch { // the channel closes once the watch is cancelled
		}
	}()
	resp, ok := <-wch
	if !ok || resp.Err() != nil || resp.Canceled || !resp.Created {
		return false
	}
	if resp.Header.Revision > *seen {
		r, err := c.cli.Get(ctx, key)
		if err != nil {
			return false
		}
		if len(r.Kvs) == 0 || r.Kvs[0].CreateRevision != created {
			return true
		}
		*seen = r.Header.Revision
	}
	for resp := range wch {
		if resp.Err() != nil || resp.Canceled {
			return false
		}
		for _, ev := range resp.Events {
			if ev.Type == clientv3.EventTypeDelete {
				return true
			}
		}
	}
	return false
}
