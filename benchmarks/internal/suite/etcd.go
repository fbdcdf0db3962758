package suite

import (
	"context"
	"errors"
	"time"

	"github.com/codomyrmex/concurrency/benchmarks/internal/harness"
	"github.com/codomyrmex/concurrency/etcdlock"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.uber.org/zap"
)

// etcdCallTimeout bounds the calls a worker makes outside the measured
// Lock: its set-up, etcd's Mutex.Unlock, and the grant of its session's
// lease.
const etcdCallTimeout = 5 * time.Second

// sessionTTL is the TTL of an etcd-concurrency worker's session, in
// seconds: concurrency.NewSession's default.
const sessionTTL = 60

// etcdScenario: workers, each with its own etcd client, share one etcd
// lock; redislock runs beside them on the session's Redis server, so that
// the table shows the latency price of consensus.
func etcdScenario() Scenario {
	return Scenario{
		Name:      "etcd",
		About:     "workers, each with its own etcd client, in several processes, share one etcd lock; redislock beside them shows the price of consensus",
		Section:   100 * time.Microsecond,
		Baseline:  "etcd-concurrency",
		Need:      NeedEtcd | NeedRedis,
		Uses:      map[string]Need{"etcdlock": NeedEtcd, "etcd-concurrency": NeedEtcd, "redislock": NeedRedis},
		Workers:   []int{1, 4},
		Processes: true,
		Impls: []harness.Impl{
			{Name: "etcdlock", Note: "this module's etcdlock, defaults: an etcd lease per acquisition (grant, put, revoke: 3 Raft writes), watchdog-renewed, woken by a watch on the key before its own", New: perWorker(newEtcdlock)},
			{Name: "etcd-concurrency", Note: "go.etcd.io/etcd/client/v3/concurrency v3.7.4 Mutex, one Session (60 s lease) per worker: put and delete (2 Raft writes)", New: perWorker(newEtcdMutex)},
			{Name: "redislock", Note: "this module's redislock, defaults, on the session's Redis server (the redis scenario's): no consensus, no fsync", New: perWorker(newRedislock)},
		},
	}
}

// newEtcdClient returns an etcd client of its own for one worker,
// connected (by a read) before the measured window opens.
func newEtcdClient(env harness.Env) (*clientv3.Client, error) {
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{"http://" + env.EtcdAddr},
		DialTimeout: dialTimeout,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), etcdCallTimeout)
	defer cancel()
	if _, err := cli.Get(ctx, env.Key); err != nil {
		_ = cli.Close()
		return nil, err
	}
	return cli, nil
}

// etcdlockWorker adapts this module's etcdlock.Mutex, with a Client and an
// etcd client of its own.
type etcdlockWorker struct {
	*etcdlock.Mutex
	cli    *clientv3.Client
	client *etcdlock.Client
}

func newEtcdlock(env harness.Env, _ harness.Params) (closingLocker, error) {
	cli, err := newEtcdClient(env)
	if err != nil {
		return nil, err
	}
	c, err := etcdlock.New(cli)
	if err != nil {
		_ = cli.Close()
		return nil, err
	}
	return &etcdlockWorker{Mutex: c.NewMutex(env.Key), cli: cli, client: c}, nil
}

func (w *etcdlockWorker) Close() error { return errors.Join(w.client.Close(), w.cli.Close()) }

// etcdMutexWorker adapts etcd's concurrency.Mutex, with a Session and an
// etcd client of its own.
type etcdMutexWorker struct {
	cli  *clientv3.Client
	sess *concurrency.Session
	mu   *concurrency.Mutex
}

// newEtcdMutex grants the session's lease itself, within a bound, and
// hands it to NewSession, which would otherwise grant it without one.
func newEtcdMutex(env harness.Env, _ harness.Params) (closingLocker, error) {
	cli, err := newEtcdClient(env)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), etcdCallTimeout)
	defer cancel()
	g, err := cli.Grant(ctx, sessionTTL)
	if err != nil {
		_ = cli.Close()
		return nil, err
	}
	sess, err := concurrency.NewSession(cli, concurrency.WithLease(g.ID), concurrency.WithTTL(sessionTTL))
	if err != nil {
		_, _ = cli.Revoke(ctx, g.ID)
		_ = cli.Close()
		return nil, err
	}
	return &etcdMutexWorker{cli: cli, sess: sess, mu: concurrency.NewMutex(sess, "contend/"+env.Key)}, nil
}

func (w *etcdMutexWorker) Lock(ctx context.Context) error { return w.mu.Lock(ctx) }

func (w *etcdMutexWorker) Unlock() {
	ctx, cancel := context.WithTimeout(context.Background(), etcdCallTimeout)
	defer cancel()
	_ = w.mu.Unlock(ctx)
}

// Close ends the session as Session.Close does, but within
// etcdCallTimeout rather than the lease's TTL: it stops the keep-alive and
// revokes the lease, then closes the client.
func (w *etcdMutexWorker) Close() error {
	w.sess.Orphan()
	ctx, cancel := context.WithTimeout(context.Background(), etcdCallTimeout)
	defer cancel()
	_, err := w.cli.Revoke(ctx, w.sess.Lease())
	return errors.Join(err, w.cli.Close())
}
