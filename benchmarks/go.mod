module github.com/codomyrmex/concurrency/benchmarks

go 1.26.0

replace github.com/codomyrmex/concurrency => ../

require (
	github.com/codomyrmex/concurrency v0.0.0-00010101000000-000000000000
	go.uber.org/goleak v1.3.0
	golang.org/x/sync v0.25.0
)
