// Package harness drives contended workers against one shared resource for
// a fixed time and measures what each of them got: acquisitions, wait
// times, allocations.
//
// An implementation under test is an [Impl]: a constructor of an
// [Instance] (one contended resource, such as one mutex or one Redis key)
// that hands every worker its own [Locker] on it. The harness knows nothing
// about mutexes, semaphores or Redis: weights, read/write mixes and
// connections live in the Locker a worker gets.
package harness

import (
	"context"
	"time"
)

// A Locker is one worker's handle on the contended resource. Lock blocks
// until the worker holds its share (or ctx ends, with an error); Unlock
// gives it back. A worker's Locker is used by that worker only.
type Locker interface {
	Lock(ctx context.Context) error
	Unlock()
}

// An Instance is one contended resource, built for one run.
type Instance interface {
	// Worker returns the Locker of worker i, 0 <= i < Params.Workers.
	Worker(i int) (Locker, error)
	// Close releases everything the instance holds (connections, files).
	Close() error
}

// Env says where the shared resources of a run live.
type Env struct {
	Dir       string // directory for lock files
	RedisAddr string // Redis server, host:port on loopback
	EtcdAddr  string // etcd server's client address, host:port on loopback
	Key       string // name of the contended lock, new for every run
}

// Params describe one run.
type Params struct {
	Workers  int           // workers across all processes
	First    int           // index of this process's first worker
	Local    int           // workers in this process
	Section  time.Duration // time each worker holds the resource (busy)
	Duration time.Duration // length of the measured window
	Writes   float64       // reader/writer scenarios: fraction of writes
	Weights  []int64       // semaphore scenarios: worker i takes Weights[i%len]
	SemSize  int64         // semaphore scenarios: capacity
}

// Weight returns the weight worker i requests.
func (p Params) Weight(i int) int64 {
	if len(p.Weights) == 0 {
		return 1
	}
	return p.Weights[i%len(p.Weights)]
}

// An Impl is one implementation under test.
type Impl struct {
	Name string // as shown, e.g. "lock.Mutex"
	Note string // how the peer is configured, shown in reports
	New  func(env Env, p Params) (Instance, error)
}

// LockerFunc builds an Instance from one shared value: every worker gets
// the Locker that worker(i) returns, and Close does nothing.
type LockerFunc func(i int) Locker

// Worker returns f(i).
func (f LockerFunc) Worker(i int) (Locker, error) { return f(i), nil }

// Close does nothing.
func (LockerFunc) Close() error { return nil }
