package suite

import (
	"errors"
	"sync"

	"github.com/codomyrmex/concurrency/benchmarks/internal/harness"
)

// A closingLocker is a worker's own Locker with resources to release.
type closingLocker interface {
	harness.Locker
	Close() error
}

// perWorker returns a constructor whose instance builds a separate Locker
// for every worker with newLocker (as separate processes would have), and
// closes them all on Close.
func perWorker(newLocker func(harness.Env, harness.Params) (closingLocker, error)) func(harness.Env, harness.Params) (harness.Instance, error) {
	return perWorkerIndexed(func(env harness.Env, p harness.Params, _ int) (closingLocker, error) { return newLocker(env, p) })
}

// perWorkerIndexed is perWorker for Lockers that depend on the worker's
// index i in the run (a weight, a seed).
func perWorkerIndexed(newLocker func(env harness.Env, p harness.Params, i int) (closingLocker, error)) func(harness.Env, harness.Params) (harness.Instance, error) {
	return func(env harness.Env, p harness.Params) (harness.Instance, error) {
		return &workers{env: env, p: p, newLocker: newLocker}, nil
	}
}

// workers is an Instance of per-worker Lockers.
type workers struct {
	env       harness.Env
	p         harness.Params
	newLocker func(harness.Env, harness.Params, int) (closingLocker, error)

	mu   sync.Mutex
	made []closingLocker
}

func (w *workers) Worker(i int) (harness.Locker, error) {
	l, err := w.newLocker(w.env, w.p, i)
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	w.made = append(w.made, l)
	w.mu.Unlock()
	return l, nil
}

func (w *workers) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	var errs []error
	for _, l := range w.made {
		errs = append(errs, l.Close())
	}
	w.made = nil
	return errors.Join(errs...)
}
