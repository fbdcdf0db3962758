// Package lease is what the lease backends (redislock and etcdlock) share:
// the state of one lease ([State]: its context, its validity, its end and
// the bookkeeping of its release), the body of their Do ([Do]) and Mutex
// ([Mutex]), the rules of their timing options ([Timing]), what their
// Client closes ([Group]: a context and the goroutines that Close waits
// for), and the [Backend] that names a backend in its errors.
//
// A backend keeps its public types and their documentation; their methods
// delegate here. What differs between the backends (the calls to the
// server, the lease's goroutine, the acquisition) stays in each.
package lease
