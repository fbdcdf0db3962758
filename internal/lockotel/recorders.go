package lockotel

import (
	"sync"

	"go.opentelemetry.io/otel"
)

// NewHandled is New for a package whose constructors do not fail because
// of telemetry: the errors go to otel.Handle, and the instrumentation,
// usable in any case, is returned.
func NewHandled(scope string, p Providers) *Instrumentation {
	in, err := New(scope, p)
	if err != nil {
		otel.Handle(err)
	}
	return in
}

// maxRecorders bounds the recorders that Recorders keep for reuse.
const maxRecorders = 1024

// Recorders are the recorders of the locks of one kind, one per lock name,
// kept for reuse (a lease backend's Client keeps one set). At most 1024
// are kept; a name beyond them gets a new recorder from every Get. They
// are safe for concurrent use.
type Recorders struct {
	in   *Instrumentation
	kind string

	mu sync.Mutex
	m  map[string]*Recorder
}

// Recorders returns the recorders of in for the locks of the given kind,
// which have a single mode.
func (in *Instrumentation) Recorders(kind string) *Recorders {
	return &Recorders{in: in, kind: kind, m: make(map[string]*Recorder)}
}

// Get returns the recorder of the lock called name, or nil if the
// instrumentation is off.
func (rs *Recorders) Get(name string) *Recorder {
	if rs.in.Off() {
		return nil
	}
	rs.mu.Lock()
	r := rs.m[name]
	rs.mu.Unlock()
	if r != nil {
		return r
	}
	r = rs.in.Recorder(rs.kind, name, "")
	rs.mu.Lock()
	if len(rs.m) < maxRecorders {
		rs.m[name] = r
	}
	rs.mu.Unlock()
	return r
}
