package lease_test

import (
	"errors"
	"testing"
	"time"

	"github.com/codomyrmex/concurrency/internal/lease"
	"github.com/codomyrmex/concurrency/lock"
)

func TestTimingCheck(t *testing.T) {
	for _, tc := range []struct {
		t    lease.Timing
		want string // the error, "" for none
	}{
		{lease.Timing{TTL: 10 * time.Second, Renew: 5 * time.Second}, ""},
		{lease.Timing{TTL: 10 * time.Second, Renew: time.Millisecond}, ""},
		{lease.Timing{TTL: 10 * time.Second, Fixed: true}, ""},
		{lease.Timing{TTL: 10 * time.Second, Renew: 5*time.Second + 1}, "testlock: renewal interval 5.000000001s is not between 1ms and half the TTL 10s"},
		{lease.Timing{TTL: 10 * time.Second, Renew: time.Millisecond - 1}, "testlock: renewal interval 999.999µs is not between 1ms and half the TTL 10s"},
		{lease.Timing{TTL: 10 * time.Second, Renew: time.Second, MaxHold: -1}, "testlock: max hold -1ns is negative"},
	} {
		err := tc.t.Check(testBackend, time.Millisecond)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v: %v", tc.t, err)
		case tc.want != "" && (!errors.Is(err, lock.ErrInvalidArgument) || err.Error() != tc.want+": "+lock.ErrInvalidArgument.Error()):
			t.Errorf("%+v: %v, want %s", tc.t, err, tc.want)
		}
	}
}
