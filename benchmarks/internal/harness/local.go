package harness

import (
	"context"
	"errors"
	"fmt"
)

// RunLocal builds impl's instance in this process, gives workers p.First to
// p.First+p.Local-1 their Lockers, calls ready (if not nil) once they are
// all built, and drives them.
func RunLocal(ctx context.Context, impl Impl, env Env, p Params, ready func()) (s Sample, err error) {
	inst, err := impl.New(env, p)
	if err != nil {
		return Sample{}, fmt.Errorf("%s: %w", impl.Name, err)
	}
	defer func() { err = errors.Join(err, inst.Close()) }()
	lockers := make([]Locker, p.Local)
	for i := range lockers {
		if lockers[i], err = inst.Worker(p.First + i); err != nil {
			return Sample{}, fmt.Errorf("%s: worker %d: %w", impl.Name, p.First+i, err)
		}
	}
	if ready != nil {
		ready()
	}
	return Drive(ctx, lockers, p), nil
}
