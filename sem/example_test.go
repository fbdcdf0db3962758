package sem_test

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/codomyrmex/concurrency/sem"
)

// Bound the memory used by concurrent jobs of different sizes.
func ExampleWeighted() {
	budget := sem.NewWeighted(10) // megabytes
	jobs := []int64{4, 6, 3, 10, 1}

	var wg sync.WaitGroup
	for _, mb := range jobs {
		if err := budget.Acquire(context.Background(), mb); err != nil {
			fmt.Println(err)
			break
		}
		wg.Go(func() {
			defer budget.Release(mb)
			// ... work using mb megabytes ...
		})
	}
	wg.Wait()
	fmt.Println("available:", budget.Available(), "of", budget.Size())
	// Output: available: 10 of 10
}

func ExampleWeighted_Acquire_tooLarge() {
	s := sem.NewWeighted(4)
	err := s.Acquire(context.Background(), 5) // fails at once, never blocks
	fmt.Println(errors.Is(err, sem.ErrTooLarge))
	// Output: true
}

func ExampleWeighted_Close() {
	s := sem.NewWeighted(1)
	s.Acquire(context.Background(), 1)
	s.Close() // shutting down: every waiter and later caller gets ErrClosed
	fmt.Println(s.Acquire(context.Background(), 1))
	s.Release(1)
	// Output: sem: lock: closed
}
