// Command otel drives a contended workload through the module's locks and
// exports its traces and metrics over OTLP/HTTP when
// OTEL_EXPORTER_OTLP_ENDPOINT (or the per-signal variables) is set.
// Otherwise it prints a short summary (spans by name, each instrument's
// total), and with -out it also writes every span and metric as JSON to a
// file. It runs for a couple of seconds (-duration) and exits, flushing
// both signals.
//
//	go run .                                              # summary
//	go run . -out telemetry.json                          # summary and a file
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
	out := flag.String("out", "", "without OTLP: also write every span and metric as JSON to this file")
	flag.Parse()
	var file io.Writer
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			log.Fatal(err)
		}
		defer f.Close()
		file = f
	}
	if err := run(*duration, *workers, os.Stdout, file); err != nil {
		log.Fatal(err)
	}
}

// run drives the workload for duration. Without an OTLP endpoint, summary
// receives a short summary of the telemetry and file, if not nil, all of
// it as JSON.
func run(duration time.Duration, workers int, summary, file io.Writer) (err error) {
	ctx := context.Background()
	shutdown, err := setup(ctx, summary, file)
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
// if an OTLP endpoint is configured. Otherwise they feed a summary, written
// to summary at shutdown, and, if file is not nil, JSON exporters writing
// to file. The returned function flushes and shuts both down.
func setup(ctx context.Context, summary, file io.Writer) (func(context.Context) error, error) {
	res := resource.NewSchemaless(semconv.ServiceName("concurrency-otel-example"))
	// One metric export at shutdown is enough for a short run; a service
	// would keep the default interval.
	interval := sdkmetric.WithInterval(time.Minute)
	if otlpConfigured() {
		spans, err := otlptracehttp.New(ctx)
		if err != nil {
			return nil, err
		}
		metrics, err := otlpmetrichttp.New(ctx)
		if err != nil {
			return nil, err
		}
		return install(
			[]sdktrace.TracerProviderOption{sdktrace.WithBatcher(spans), sdktrace.WithResource(res)},
			[]sdkmetric.Option{sdkmetric.WithReader(sdkmetric.NewPeriodicReader(metrics, interval)), sdkmetric.WithResource(res)},
			nil), nil
	}
	counter, reader := new(spanCounter), sdkmetric.NewManualReader()
	topts := []sdktrace.TracerProviderOption{sdktrace.WithBatcher(counter), sdktrace.WithResource(res)}
	mopts := []sdkmetric.Option{sdkmetric.WithReader(reader), sdkmetric.WithResource(res)}
	if file != nil {
		spans, err := stdouttrace.New(stdouttrace.WithWriter(file))
		if err != nil {
			return nil, err
		}
		metrics, err := stdoutmetric.New(stdoutmetric.WithWriter(file))
		if err != nil {
			return nil, err
		}
		topts = append(topts, sdktrace.WithBatcher(spans))
		mopts = append(mopts, sdkmetric.WithReader(sdkmetric.NewPeriodicReader(metrics, interval)))
	}
	return install(topts, mopts, func(ctx context.Context) error {
		return summarize(ctx, summary, counter, reader)
	}), nil
}

// install sets global providers built with the options and returns their
// shutdown, which flushes the spans, runs before (if not nil), then shuts
// both providers down.
func install(topts []sdktrace.TracerProviderOption, mopts []sdkmetric.Option, before func(context.Context) error) func(context.Context) error {
	tp := sdktrace.NewTracerProvider(topts...)
	mp := sdkmetric.NewMeterProvider(mopts...)
	otel.SetTracerProvider(tp)
	otel.SetMeterProvider(mp)
	return func(ctx context.Context) error {
		err := tp.ForceFlush(ctx)
		if before != nil {
			err = errors.Join(err, before(ctx))
		}
		return errors.Join(err, tp.Shutdown(ctx), mp.Shutdown(ctx))
	}
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
