//go:build race

package race_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/codomyrmex/concurrency/lock"
	"github.com/codomyrmex/concurrency/rw"
	"github.com/codomyrmex/concurrency/sem"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// child runs body in a re-executed test binary when the environment asks
// for it, and otherwise runs that binary and returns its output.
func child(t *testing.T, body func()) []byte {
	if os.Getenv("RACE_CHILD") == t.Name() {
		body()
		return nil
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), "RACE_CHILD="+t.Name())
	out, _ := cmd.CombinedOutput()
	return out
}

// TestRaceReadersWriting: two readers of an RWMutex write the same variable,
// one after the other but with no writer in between. The lock's internal
// atomics order them, yet the detector must still report the race.
func TestRaceReadersWriting(t *testing.T) {
	out := child(t, func() {
		var mu rw.RWMutex
		x := 0
		done := make(chan struct{})
		go func() {
			mu.RLock(context.Background())
			x++
			mu.RUnlock()
			close(done)
		}()
		time.Sleep(50 * time.Millisecond) // not synchronization
		mu.RLock(context.Background())
		x++
		mu.RUnlock()
		<-done
	})
	if out != nil && !bytes.Contains(out, []byte("DATA RACE")) {
		t.Fatalf("race between two readers not reported:\n%s", out)
	}
}

// TestRaceSemaphoreHolders: two holders of a size-2 semaphore write the
// same variable at the same time.
func TestRaceSemaphoreHolders(t *testing.T) {
	out := child(t, func() {
		s := sem.NewWeighted(2)
		x := 0
		s.Acquire(context.Background(), 1)
		done := make(chan struct{})
		go func() {
			s.Acquire(context.Background(), 1)
			x++
			s.Release(1)
			close(done)
		}()
		x++
		<-done
		s.Release(1)
	})
	if out != nil && !bytes.Contains(out, []byte("DATA RACE")) {
		t.Fatalf("race between two semaphore holders not reported:\n%s", out)
	}
}

// TestRaceFailedTryLock: a goroutine writes a variable, then locks the
// mutex; another, whose TryLock then fails, reads it. Failing, the TryLock
// (like Locked and Waiters) does not synchronize with the Lock it saw,
// though both touched the mutex's state word after the write, so the
// write and the read race.
func TestRaceFailedTryLock(t *testing.T) {
	out := child(t, func() {
		var mu lock.Mutex
		x := 0
		go func() {
			x++
			mu.Lock(context.Background())
			time.Sleep(100 * time.Millisecond) // not synchronization
			mu.Unlock()
		}()
		time.Sleep(50 * time.Millisecond)
		if mu.TryLock() || !mu.Locked() || mu.Waiters() != 0 {
			panic("the mutex is not held by the other goroutine")
		}
		_ = x
		time.Sleep(100 * time.Millisecond)
	})
	if out != nil && !bytes.Contains(out, []byte("DATA RACE")) {
		t.Fatalf("race after a failed TryLock not reported:\n%s", out)
	}
}

// TestNoRaceWriterThenReader: a write under the write lock and a read
// under a later read lock are ordered by the lock alone.
func TestNoRaceWriterThenReader(t *testing.T) {
	var mu rw.RWMutex
	x := 0
	done := make(chan struct{})
	go func() {
		mu.Lock(context.Background())
		x++
		mu.Unlock()
		close(done)
	}()
	time.Sleep(20 * time.Millisecond)
	mu.RLock(context.Background())
	_ = x
	mu.RUnlock()
	<-done
}
