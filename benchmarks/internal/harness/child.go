package harness

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
)

// A Job is the share of one run that one worker process executes.
type Job struct {
	Scenario string `json:"scenario"`
	Impl     string `json:"impl"`
	Env      Env    `json:"env"`
	Params   Params `json:"params"`
}

// A Lookup finds an implementation by scenario and name.
type Lookup func(scenario, impl string) (Impl, bool)

// The lines of the parent–child protocol, after the Job line.
const (
	readyLine = "ready\n" // child: lockers built
	goLine    = "go\n"    // parent: start the window
)

// ServeChild is the worker-process side of [RunProcs]. It reads a Job (one
// JSON line) from in, builds its lockers, writes "ready", waits for "go",
// drives the workers and writes the Sample as one JSON line to out. It
// stops early, reporting what it has, when ctx ends or in is closed.
func ServeChild(ctx context.Context, in io.Reader, out io.Writer, lookup Lookup) error {
	r := bufio.NewReader(in)
	line, err := r.ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("read job: %w", err)
	}
	var job Job
	if err := json.Unmarshal(line, &job); err != nil {
		return fmt.Errorf("decode job: %w", err)
	}
	impl, ok := lookup(job.Scenario, job.Impl)
	if !ok {
		return fmt.Errorf("unknown implementation %s/%s", job.Scenario, job.Impl)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ready := func() {
		if _, err := io.WriteString(out, readyLine); err != nil {
			cancel()
			return
		}
		started := make(chan bool, 1)
		go func() { // ends when the parent closes in, at the latest
			l, err := r.ReadString('\n')
			started <- err == nil && l == goLine
			_, _ = io.Copy(io.Discard, r)
			cancel()
		}()
		select {
		case ok := <-started:
			if !ok {
				cancel()
			}
		case <-ctx.Done():
		}
	}
	s, err := RunLocal(ctx, impl, job.Env, job.Params, ready)
	if err != nil {
		return err
	}
	return json.NewEncoder(out).Encode(&s)
}
