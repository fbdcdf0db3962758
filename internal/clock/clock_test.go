package clock

import (
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestStamp(t *testing.T) {
	s := Now()
	time.Sleep(time.Millisecond)
	e := Now()
	if s == 0 || e == 0 {
		t.Fatal("a reading is zero, which means unread")
	}
	if d := s.Until(e); d < time.Millisecond {
		t.Fatalf("Until = %v after a 1ms sleep", d)
	}
	if Stamp(0).Until(e) != -1 || s.Until(0) != -1 {
		t.Fatal("an unread stamp must give -1")
	}
}
