package redislock_test

import (
	"strconv"
	"strings"
	"time"
)

// containsLine reports whether text has a line equal to line (ignoring
// a trailing \r).
func containsLine(text, line string) bool {
	for l := range strings.SplitSeq(text, "\n") {
		if strings.TrimSuffix(l, "\r") == line {
			return true
		}
	}
	return false
}

// infoField returns the value of field in an INFO reply, or "".
func infoField(info, field string) string {
	for l := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSuffix(l, "\r"), field+":"); ok {
			return v
		}
	}
	return ""
}

// commandCalls returns the calls= count of a command in INFO commandstats.
func commandCalls(info, cmd string) int {
	v := infoField(info, "cmdstat_"+cmd)
	for f := range strings.SplitSeq(v, ",") {
		if n, ok := strings.CutPrefix(f, "calls="); ok {
			c, _ := strconv.Atoi(n)
			return c
		}
	}
	return 0
}

// within reports whether d is in [lo, hi].
func within(d, lo, hi time.Duration) bool { return d >= lo && d <= hi }

// eventually polls cond every 5ms until it holds or d has passed.
func eventually(d time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(d); ; time.Sleep(5 * time.Millisecond) {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}
