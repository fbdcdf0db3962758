package etcdlock_test

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/codomyrmex/concurrency/etcdlock"
)

// writeFirst is a clientv3.Watcher that puts an unrelated key before each
// watch it opens, as another worker's write could land between a
// waiter's last read and its watch, and then reports the watch open (the
// etcd client returns from Watch once etcd has created the watch).
type writeFirst struct {
	clientv3.Watcher
	kv     clientv3.KV
	before atomic.Pointer[func()]        // run, and cleared, before the next watch opens
	opened atomic.Pointer[chan struct{}] // closed, and cleared, once a watch is open
}

func (w *writeFirst) Watch(ctx context.Context, key string, opts ...clientv3.OpOption) clientv3.WatchChan {
	_, _ = w.kv.Put(context.WithoutCancel(ctx), "unrelated", "x")
	if f := w.before.Swap(nil); f != nil {
		(*f)()
	}
	wch := w.Watcher.Watch(ctx, key, opts...)
	if ch := w.opened.Swap(nil); ch != nil {
		close(*ch)
	}
	return wch
}

// expect returns a channel closed when the next watch is open.
func (w *writeFirst) expect() <-chan struct{} {
	ch := make(chan struct{})
	w.opened.Store(&ch)
	return ch
}

// TestWakeAfterUnrelatedWrite: a waiter is woken within milliseconds of its
// predecessor's release, and a holder learns as fast that its key was
// deleted, even when another write reached etcd between their last read
// and their watch. (etcd serves a watch that starts behind its current
// revision only every 100ms: a watch started after the last read woke them
// up to 100ms late, 80ms or more in most rounds.)
func TestWakeAfterUnrelatedWrite(t *testing.T) {
	c, cli := single(t)
	ctx := testCtx(t, 60*time.Second)
	wcli := c.Client(t)
	w := &writeFirst{Watcher: wcli.Watcher, kv: cli}
	wcli.Watcher = w
	holder := newClient(t, cli)
	waiter := newClient(t, wcli)
	const rounds = 20
	// p90 of 20 rounds, well under the 100ms of an unsynced watch and well
	// over the few milliseconds it takes, even on a loaded machine.
	const bound = 50 * time.Millisecond

	t.Run("waiter", func(t *testing.T) {
		var lat []time.Duration
		for i := range rounds {
			first, err := holder.Obtain(ctx, "wake")
			if err != nil {
				t.Fatal(err)
			}
			opened := w.expect()
			got := make(chan *etcdlock.Lease, 1)
			go func() {
				l, err := waiter.Obtain(ctx, "wake")
				if err != nil {
					t.Errorf("round %d: waiter: %v", i, err)
				}
				got <- l
			}()
			select {
			case <-opened:
			case <-time.After(10 * time.Second):
				t.Fatalf("round %d: the waiter opened no watch", i)
			}
			// The waiter may still be reading its predecessor
			// again; either way it must not miss the release.
			start := time.Now()
			if err := first.Release(ctx); err != nil {
				t.Fatal(err)
			}
			l := <-got
			lat = append(lat, time.Since(start))
			if l == nil {
				t.FailNow()
			}
			if err := l.Release(ctx); err != nil {
				t.Fatal(err)
			}
		}
		checkP90(t, "waiter woken", lat, bound)
	})

	t.Run("holder", func(t *testing.T) {
		var lat []time.Duration
		for i := range rounds {
			opened := w.expect()
			l, err := waiter.Obtain(ctx, "wake")
			if err != nil {
				t.Fatal(err)
			}
			select {
			case <-opened: // the holder's watch on its own key
			case <-time.After(10 * time.Second):
				t.Fatalf("round %d: the holder opened no watch", i)
			}
			start := time.Now()
			if _, err := cli.Delete(ctx, l.Key()); err != nil {
				t.Fatal(err)
			}
			select {
			case <-l.Done():
			case <-time.After(10 * time.Second):
				t.Fatalf("round %d: Done not closed", i)
			}
			lat = append(lat, time.Since(start))
			_ = l.Release(ctx) // lost: lock.ErrNotHeld
		}
		checkP90(t, "loss seen", lat, bound)
	})
}

// TestNoDeleteMissedBeforeWatch: a predecessor released, or a holder's
// key deleted, after the last read and before the watch opens is not
// missed: the waiter takes the lock and the holder learns of its loss.
func TestNoDeleteMissedBeforeWatch(t *testing.T) {
	c, cli := single(t)
	ctx := testCtx(t, 60*time.Second)
	wcli := c.Client(t)
	w := &writeFirst{Watcher: wcli.Watcher, kv: cli}
	wcli.Watcher = w
	holder := newClient(t, cli)
	waiter := newClient(t, wcli)
	for i := range 5 {
		first, err := holder.Obtain(ctx, "missed")
		if err != nil {
			t.Fatal(err)
		}
		release := func() {
			if err := first.Release(ctx); err != nil {
				t.Errorf("round %d: Release: %v", i, err)
			}
		}
		w.before.Store(&release)
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second) // bounds the hold too
		l, err := waiter.Obtain(wctx, "missed")
		if err != nil {
			cancel()
			t.Fatalf("round %d: the waiter missed the release: %v", i, err)
		}
		if w.before.Load() != nil {
			cancel()
			t.Fatalf("round %d: the waiter opened no watch", i)
		}
		err = l.Release(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		var key atomic.Value
		del := func() {
			if _, err := cli.Delete(ctx, key.Load().(string)); err != nil {
				t.Errorf("round %d: Delete: %v", i, err)
			}
		}
		// Obtain returns before the holder's watch opens: hold the
		// watch back until the key is known.
		gate := make(chan struct{})
		hook := func() { <-gate; del() }
		w.before.Store(&hook)
		opened := w.expect()
		l, err := waiter.Obtain(ctx, "missed")
		if err != nil {
			close(gate)
			t.Fatal(err)
		}
		key.Store(l.Key())
		close(gate)
		<-opened
		select {
		case <-l.Done():
		case <-time.After(5 * time.Second):
			t.Fatalf("round %d: the holder missed the deletion of its key", i)
		}
		_ = l.Release(ctx) // lost: lock.ErrNotHeld
	}
}

// checkP90 fails t if the 90th percentile of lat is not under bound.
func checkP90(t *testing.T, what string, lat []time.Duration, bound time.Duration) {
	t.Helper()
	s := slices.Clone(lat)
	slices.Sort(s)
	p90 := s[(len(s)*9+9)/10-1]
	t.Logf("%s after %v (p90 %v)", what, lat, p90)
	if p90 >= bound {
		t.Errorf("%s: p90 %v over %d rounds, want under %v", what, p90, len(lat), bound)
	}
}
