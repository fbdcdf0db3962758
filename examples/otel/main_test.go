package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRun runs the workload briefly without OTLP and checks that it ends by
// itself, leaving no goroutine; that the summary is a few lines naming the
// spans and instruments (the example once printed megabytes of JSON); and
// that the file gets the JSON.
func TestRun(t *testing.T) {
	for _, v := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"} {
		t.Setenv(v, "")
	}
	tp, mp := otel.GetTracerProvider(), otel.GetMeterProvider()
	t.Cleanup(func() {
		otel.SetTracerProvider(tp)
		otel.SetMeterProvider(mp)
	})
	start := time.Now()
	var summary, file bytes.Buffer
	if err := run(200*time.Millisecond, 4, &summary, &file); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("run took %v", d)
	}
	out := summary.String()
	if len(out) > 2048 || !strings.Contains(out, "acquire ") || !strings.Contains(out, "lock.wait.duration") {
		t.Errorf("summary of %d bytes:\n%s", len(out), out)
	}
	if !strings.Contains(file.String(), `"Name":"acquire `) {
		t.Errorf("the file has no spans: %.300s", file.String())
	}
}
