package report

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// Rate formats a rate with three significant digits and a k/M/G suffix.
func Rate(x float64) string {
	switch {
	case x >= 1e9:
		return sig3(x/1e9) + "G"
	case x >= 1e6:
		return sig3(x/1e6) + "M"
	case x >= 1e3:
		return sig3(x/1e3) + "k"
	}
	return sig3(x)
}

// Dur formats d with three significant digits in the largest unit that
// keeps it at least 1: 87ns, 1.23µs, 45.6ms, 1.20s.
func Dur(d time.Duration) string {
	x := float64(d)
	switch {
	case d >= time.Second:
		return sig3(x/1e9) + "s"
	case d >= time.Millisecond:
		return sig3(x/1e6) + "ms"
	case d >= time.Microsecond:
		return sig3(x/1e3) + "µs"
	}
	return strconv.FormatInt(int64(d), 10) + "ns"
}

// CPU formats a CPU time per operation, in nanoseconds, as Dur does, or
// "-" when unknown.
func CPU(m Maybe) string {
	if !m.Known() {
		return "-"
	}
	return Dur(time.Duration(math.Round(float64(m))))
}

// Ratio formats a ratio as "1.23×", or "-" when unknown.
func Ratio(m Maybe) string {
	if !m.Known() {
		return "-"
	}
	return sig3(float64(m)) + "×"
}

// Count formats a per-operation count such as allocations: integers as
// such, small fractions with up to two decimals, "-" when unknown.
func Count(m Maybe) string {
	x := float64(m)
	switch {
	case !m.Known():
		return "-"
	case x == math.Trunc(x) || x >= 100:
		return strconv.FormatFloat(x, 'f', 0, 64)
	case x >= 10:
		return strconv.FormatFloat(x, 'f', 1, 64)
	}
	return strconv.FormatFloat(x, 'f', 2, 64)
}

// sig3 formats x with three significant digits, without exponent.
func sig3(x float64) string {
	switch {
	case x == 0:
		return "0"
	case math.Abs(x) >= 100:
		return fmt.Sprintf("%.0f", x)
	case math.Abs(x) >= 10:
		return fmt.Sprintf("%.1f", x)
	}
	return fmt.Sprintf("%.2f", x)
}
