//go:build unix

package proctest

import "syscall"

// Stop suspends the process (SIGSTOP).
func (p *Proc) Stop() error { return p.Signal(syscall.SIGSTOP) }

// Cont resumes a stopped process (SIGCONT).
func (p *Proc) Cont() error { return p.Signal(syscall.SIGCONT) }
