package main

import (
	"bufio"
	"os"
	"runtime"
	"strings"

	"github.com/codomyrmex/concurrency/benchmarks/internal/report"
)

// thisMachine describes the machine and Go runtime running contend.
func thisMachine() report.Machine {
	return report.Machine{
		GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, CPU: cpuModel(),
		CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), GoVersion: runtime.Version(),
	}
}

// cpuModel returns the processor's model name where /proc/cpuinfo tells
// it, or "".
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
