package suite

import (
	"context"
	"errors"
	"path/filepath"
	"time"

	"github.com/codomyrmex/concurrency/benchmarks/internal/harness"
	"github.com/codomyrmex/concurrency/filelock"
	"github.com/gofrs/flock"
)

// gofrsRetry is the polling interval given to gofrs/flock's
// TryLockContext.
const gofrsRetry = time.Millisecond

// fileScenario: workers in one or more processes share one lock file.
func fileScenario() Scenario {
	return Scenario{
		Name:      "file",
		About:     "workers, in several processes, share one lock file",
		Section:   20 * time.Microsecond,
		Baseline:  "gofrs.Lock",
		Need:      NeedDir,
		Processes: true,
		Impls: []harness.Impl{
			{Name: "filelock", Note: "flock(2), inotify-woken waits", New: perWorker(newFilelock)},
			{Name: "gofrs.Lock", Note: "github.com/gofrs/flock v0.13: blocking flock(2), not cancellable", New: perWorker(newGofrs(false))},
			{Name: "gofrs.TryLockContext", Note: "github.com/gofrs/flock v0.13: polls every 1ms", New: perWorker(newGofrs(true))},
		},
	}
}

// lockPath is the lock file of a run.
func lockPath(env harness.Env) string { return filepath.Join(env.Dir, env.Key+".lock") }

// newFilelock opens a filelock.Lock on the run's lock file.
func newFilelock(env harness.Env, _ harness.Params) (closingLocker, error) {
	return filelock.New(lockPath(env))
}

// gofrsWorker adapts a gofrs/flock.Flock: each worker has its own, so its
// own descriptor, as gofrs requires for exclusion.
type gofrsWorker struct {
	f    *flock.Flock
	poll bool // TryLockContext instead of Lock
}

// errNotObtained is a TryLockContext that returned false without an error.
var errNotObtained = errors.New("not obtained")

func (w gofrsWorker) Lock(ctx context.Context) error {
	if !w.poll {
		return w.f.Lock()
	}
	ok, err := w.f.TryLockContext(ctx, gofrsRetry)
	if err == nil && !ok {
		err = errNotObtained
	}
	return err
}

func (w gofrsWorker) Unlock()      { _ = w.f.Unlock() }
func (w gofrsWorker) Close() error { return w.f.Close() }

func newGofrs(poll bool) func(harness.Env, harness.Params) (closingLocker, error) {
	return func(env harness.Env, _ harness.Params) (closingLocker, error) {
		return gofrsWorker{flock.New(lockPath(env)), poll}, nil
	}
}
