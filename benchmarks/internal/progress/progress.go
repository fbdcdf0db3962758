// Package progress shows which run of a contend session is going on, how
// long the session has taken and about how long it has left: redrawn in
// place on a terminal, one plain line per run otherwise.
package progress

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// redraw is how often a terminal display is refreshed.
const redraw = 200 * time.Millisecond

// A Display reports progress through a fixed number of runs.
type Display struct {
	w     io.Writer
	live  bool
	total int
	guess time.Duration // expected length of one run, before any has ended
	start time.Time

	mu      sync.Mutex
	done    int
	label   string
	stop    chan struct{}
	stopped chan struct{}
}

// IsTerminal reports whether f is a character device, as a terminal is.
func IsTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// New returns a display of total runs, each expected to take about guess,
// written to w: redrawn in place when live, as plain lines otherwise. Close
// must be called when the runs are over.
func New(w io.Writer, live bool, total int, guess time.Duration) *Display {
	d := &Display{w: w, live: live, total: total, guess: guess, start: time.Now(),
		stop: make(chan struct{}), stopped: make(chan struct{})}
	if !live {
		close(d.stopped)
		return d
	}
	go d.loop()
	return d
}

// loop redraws the line until Close.
func (d *Display) loop() {
	defer close(d.stopped)
	t := time.NewTicker(redraw)
	defer t.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-t.C:
			d.mu.Lock()
			d.draw()
			d.mu.Unlock()
		}
	}
}

// Start announces the next run.
func (d *Display) Start(label string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.label = label
	if d.live {
		d.draw()
		return
	}
	fmt.Fprintf(d.w, "%s\n", d.line())
}

// Done records that the current run has ended.
func (d *Display) Done() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.done++
}

// Close stops redrawing and clears the line.
func (d *Display) Close() {
	select {
	case <-d.stop:
		return
	default:
	}
	close(d.stop)
	<-d.stopped
	if d.live {
		fmt.Fprint(d.w, "\r\x1b[K")
	}
}

// draw rewrites the terminal line; d.mu is held.
func (d *Display) draw() { fmt.Fprintf(d.w, "\r\x1b[K%s", d.line()) }

// line describes the current run; d.mu is held.
func (d *Display) line() string {
	return fmt.Sprintf("[%d/%d] %s  elapsed %v, about %v left", min(d.done+1, d.total), d.total, d.label,
		time.Since(d.start).Round(time.Second/10), d.remaining().Round(time.Second))
}

// remaining estimates the time left: the mean length of the runs so far
// (or the guess, before any) times the runs not yet finished; d.mu is held.
func (d *Display) remaining() time.Duration {
	per := d.guess
	if d.done > 0 {
		per = time.Since(d.start) / time.Duration(d.done)
	}
	return per * time.Duration(d.total-d.done)
}
