package chaos_test

import (
	"fmt"
	"os"
	"strconv"
)

// Environment of the helper processes.
const (
	envDir        = "CHAOS_DIR"        // the scenario's shared directory
	envID         = "CHAOS_ID"         // the helper's number, unique in the scenario
	envGoroutines = "CHAOS_GOROUTINES" // goroutines contending in the helper
	envIterations = "CHAOS_ITERATIONS" // acquire attempts per goroutine
	envOFD        = "CHAOS_OFD"        // "true": file locks use OFD locks, not flock(2)
)

// envInt returns the integer value of the environment variable name.
func envInt(name string) (int, error) {
	v, err := strconv.Atoi(os.Getenv(name))
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	return v, nil
}

// setenv renders name=value for a helper's environment.
func setenv(name string, value any) string { return fmt.Sprintf("%s=%v", name, value) }
