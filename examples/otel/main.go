// Command otel drives a contended workload through the module's locks and
// exports its traces and metrics: over OTLP/HTTP when
// OTEL_EXPORTER_OTLP_ENDPOINT (or the per-signal variables) is set, to
// standard output otherwise. It runs for a couple of seconds (-duration)
// and exits, flushing both signals.
//
//	go run .                                              # stdout
//	OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 go run .
//
// Dashboards can then show lock.wait.duration and lock.hold.duration by
// lock.name, lock.contentions, lock.waiters and lock.holders, and traces
// show an "acquire {kind}" span for each acquisition that had to wait.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/codomyrmex/concurrency/manager"
	"github.com/codomyrmex/concurrency/sem"
	"github.com/codomyrmex/concurrency/telemetry"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdoutmetric"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

func main() {
	duration := flag.Duration("duration", 2*time.Second, "how long to run the workload")
	workers := flag.Int("workers", 8, "goroutines contending for the locks")
	flag.Parse()
	if err := run(*duration, *workers, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// run drives the workload for duration; stdout receives the telemetry when
// no OTLP endpoint is configured.
func run(duration time.Duration, workers int, stdout io.Writer) (err error) {
	ctx := context.Background()
	shutdown, err := setup(ctx, stdout)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = errors.Join(err, shutdown(sctx))
	}()

	// The providers are global, so the wrappers and the Manager need no
	// options; pass telemetry.WithTracerProvider and WithMeterProvider to
	// use others.
	accounts := manager.New(manager.WithOnDemand())
	orders := telemetry.NewMutex("orders", nil)
	pool := telemetry.NewWeighted("db-pool", sem.NewWeighted(3))

	ctx, cancel := context.WithTimeout(ctx, duration)
	defer cancel()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() { work(ctx, w, accounts, orders, pool) })
	}
	wg.Wait()
	st := accounts.TotalStats()
	fmt.Fprintf(os.Stderr, "accounts: %d acquisitions, %d contended, %d timed out, max wait %v, max hold %v\n",
		st.Acquisitions, st.Contended, st.Cancellations, st.WaitMax, st.HoldMax)
	return nil
}

// work loops until ctx ends: transfers between random accounts (two locks
// through the Manager, each attempt bounded by 5ms), order appends under a
// mutex, and queries bounded by a semaphore of 3.
func work(ctx context.Context, w int, accounts *manager.Manager, orders *telemetry.Mutex, pool *telemetry.Weighted) {
	r := rand.New(rand.NewPCG(uint64(w), 0))
	for ctx.Err() == nil {
		from, to := fmt.Sprint("account-", r.IntN(4)), fmt.Sprint("account-", r.IntN(4))
		tctx, cancel := context.WithTimeout(ctx, 5*time.Millisecond)
		if h, err := accounts.AcquireAll(tctx, from, to); err == nil {
			time.Sleep(time.Duration(r.IntN(500)) * time.Microsecond)
			h.Release(ctx)
		}
		cancel()

		if orders.Lock(ctx) == nil {
			time.Sleep(50 * time.Microsecond)
			orders.Unlock()
		}

		if pool.Acquire(ctx, 1) == nil {
			time.Sleep(time.Duration(r.IntN(1000)) * time.Microsecond)
			pool.Release(1)
		}
	}
}

// setup installs global tracer and meter providers exporting over OTLP/HTTP
// if an OTLP endpoint is configured, and to stdout otherwise. The returned
// function flushes and shuts both down.
func setup(ctx context.Context, stdout io.Writer) (func(context.Context) error, error) {
	res := resource.NewSchemaless(semconv.ServiceName("concurrency-otel-example"))
	var (
		spans   sdktrace.SpanExporter
		metrics sdkmetric.Exporter
		err     error
	)
	if otlpConfigured() {
		if spans, err = otlptracehttp.New(ctx); err != nil {
			return nil, err
		}
		if metrics, err = otlpmetrichttp.New(ctx); err != nil {
			return nil, err
		}
	} else {
		if spans, err = stdouttrace.New(stdouttrace.WithWriter(stdout), stdouttrace.WithPrettyPrint()); err != nil {
			return nil, err
		}
		if metrics, err = stdoutmetric.New(stdoutmetric.WithWriter(stdout), stdoutmetric.WithPrettyPrint()); err != nil {
			return nil, err
		}
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(spans), sdktrace.WithResource(res))
	// One export at shutdown is enough for a short run; a service would
	// keep the default interval.
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithResource(res),
		sdkmetric.WithReader(sdkmetric.NewPeriodicReader(metrics, sdkmetric.WithInterval(time.Minute))))
	otel.SetTracerProvider(tp)
	otel.SetMeterProvider(mp)
	return func(ctx context.Context) error {
		return errors.Join(tp.Shutdown(ctx), mp.Shutdown(ctx))
	}, nil
}

func otlpConfigured() bool {
	for _, v := range []string{
		"OTEL_EXPORTER_OTLP_ENDPOINT",
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
		"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
	} {
		if os.Getenv(v) != "" {
			return true
		}
	}
	return false
}
