package telemetry

import "github.com/codomyrmex/concurrency/internal/lockotel"

// Temporary: the names redislock still uses while it moves to
// internal/lockotel. Removed once it has.

type (
	Recorder        = lockotel.Recorder
	Instrumentation = lockotel.Instrumentation
	Wait            = lockotel.Wait
)

const (
	KindRedis = lockotel.KindRedis
	Version   = lockotel.Version
)

func New(scope string, opts ...Option) (*lockotel.Instrumentation, error) {
	var p lockotel.Providers
	for _, o := range opts {
		o.apply(&p)
	}
	return lockotel.New(scope, p)
}
