package lock_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/codomyrmex/concurrency/lock"
)

func ExampleMutex() {
	var mu lock.Mutex // the zero value is ready
	balance := 0

	// Give up if the lock is not ours within the request's deadline.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := mu.Lock(ctx); err != nil {
		fmt.Println("busy:", err)
		return
	}
	balance += 10
	mu.Unlock()
	fmt.Println(balance)
	// Output: 10
}

func ExampleMutex_Lock_timeout() {
	var mu lock.Mutex
	mu.Lock(context.Background())
	defer mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	err := mu.Lock(ctx) // held elsewhere: fails at the deadline, holding nothing
	fmt.Println(errors.Is(err, context.DeadlineExceeded))
	// Output: true
}

func ExampleMutex_SetMaxWaiters() {
	var mu lock.Mutex
	mu.SetMaxWaiters(1) // at most one goroutine waits; others fail fast

	mu.Lock(context.Background())
	waiting := make(chan error)
	go func() { waiting <- mu.Lock(context.Background()) }()
	for mu.Waiters() == 0 {
		time.Sleep(time.Millisecond) // until the goroutine waits
	}

	err := mu.Lock(context.Background()) // would wait behind it: refused
	fmt.Println(errors.Is(err, lock.ErrTooManyWaiters))

	mu.Unlock()            // hand over to the waiter
	fmt.Println(<-waiting) // it holds the mutex now
	mu.Unlock()
	// Output:
	// true
	// <nil>
}
