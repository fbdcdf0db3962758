package progress

import (
	"bytes"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// syncBuffer is a bytes.Buffer safe for the display's redraw goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestPlain(t *testing.T) {
	var b syncBuffer
	d := New(&b, false, 2, time.Second)
	d.Start("mutex workers=1")
	d.Done()
	d.Start("mutex workers=8")
	d.Done()
	d.Close()
	d.Close() // idempotent
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "[1/2] mutex workers=1  elapsed ") ||
		!strings.HasPrefix(lines[1], "[2/2] mutex workers=8") || !strings.Contains(lines[0], "about 2s left") {
		t.Fatalf("plain output %q", b.String())
	}
	if strings.Contains(b.String(), "\x1b") {
		t.Fatal("escape sequences in plain output")
	}
}

func TestLive(t *testing.T) {
	var b syncBuffer
	d := New(&b, true, 3, 10*time.Millisecond)
	d.Start("rw workers=4")
	time.Sleep(3 * redraw / 2)
	d.Done()
	d.Close()
	out := b.String()
	if strings.Count(out, "\r\x1b[K[1/3] rw workers=4") < 2 || !strings.HasSuffix(out, "\r\x1b[K") || strings.Contains(out, "\n") {
		t.Fatalf("live output %q", out)
	}
}

func TestIsTerminal(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if IsTerminal(f) {
		t.Fatal("a regular file is a terminal")
	}
}
