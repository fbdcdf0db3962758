package telemetry

import (
	"github.com/codomyrmex/concurrency/internal/lockotel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// An Option configures where telemetry goes.
type Option interface {
	apply(*lockotel.Providers)
}

type optionFunc func(*lockotel.Providers)

func (f optionFunc) apply(p *lockotel.Providers) { f(p) }

// WithTracerProvider sets the provider of the tracer that records spans. A
// nil provider is ignored. The default is the global provider.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(p *lockotel.Providers) {
		if tp != nil {
			p.Tracer = tp
		}
	})
}

// WithMeterProvider sets the provider of the meter that records metrics. A
// nil provider is ignored. The default is the global provider.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(p *lockotel.Providers) {
		if mp != nil {
			p.Meter = mp
		}
	})
}
