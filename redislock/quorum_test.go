package redislock

import (
	"math/bits"
	"testing"
)

func TestSemaphoreQuorum(t *testing.T) {
	for _, c := range []struct {
		size    int64
		servers int
		want    int
	}{
		{1, 1, 1}, {1, 2, 2}, {1, 3, 2}, {1, 4, 3}, {1, 5, 3}, {1, 7, 4},
		{2, 3, 3}, {2, 5, 4}, {3, 5, 4}, {4, 5, 5}, {100, 5, 5},
		{2, 7, 5}, {3, 7, 6}, {5, 7, 6}, {6, 7, 7},
		{1 << 62, 9, 9}, {9223372036854775807, 5, 5},
		{0, 5, 1}, {-3, 5, 1}, {3, 0, 0}, {3, -1, 0},
	} {
		if got := semaphoreQuorum(c.size, c.servers); got != c.want {
			t.Errorf("semaphoreQuorum(%d, %d) = %d, want %d", c.size, c.servers, got, c.want)
		}
	}
}

// TestSemaphoreQuorumIsTight checks the quorum by brute force on small
// deployments: with it, no size+1 holders of weight 1 fit on N servers
// that each admit size; with one server fewer, some do (a majority among
// them, for sizes above 1).
func TestSemaphoreQuorumIsTight(t *testing.T) {
	for servers := 1; servers <= 6; servers++ {
		for size := int64(1); size <= 6; size++ {
			q := semaphoreQuorum(size, servers)
			if q*int(size+1) <= int(size)*servers || q > servers {
				t.Fatalf("N=%d size=%d: q=%d fails the counting bound", servers, size, q)
			}
			if overAdmits(servers, int(size), q) {
				t.Errorf("N=%d size=%d: %d holders fit with q=%d", servers, size, size+1, q)
			}
			if q > 1 && !overAdmits(servers, int(size), q-1) {
				t.Errorf("N=%d size=%d: q=%d is not the least safe quorum", servers, size, q)
			}
		}
	}
	if semaphoreQuorum(2, 5) != 4 || !overAdmits(5, 2, 3) {
		t.Error("N=5, size 2: a majority (3) should over-admit")
	}
}

// overAdmits reports whether size+1 holders, each on q distinct servers
// of N, fit with no server holding more than size, by trying every
// multiset of q-subsets.
func overAdmits(servers, size, q int) bool {
	var subsets []uint
	for m := uint(0); m < 1<<servers; m++ {
		if bits.OnesCount(m) == q {
			subsets = append(subsets, m)
		}
	}
	load := make([]int, servers)
	var try func(holders, from int) bool
	try = func(holders, from int) bool {
		if holders == size+1 {
			return true
		}
		for i := from; i < len(subsets); i++ {
			ok := true
			for s := range servers {
				if subsets[i]&(1<<s) != 0 && load[s] == size {
					ok = false
				}
			}
			if !ok {
				continue
			}
			for s := range servers {
				if subsets[i]&(1<<s) != 0 {
					load[s]++
				}
			}
			found := try(holders+1, i)
			for s := range servers {
				if subsets[i]&(1<<s) != 0 {
					load[s]--
				}
			}
			if found {
				return true
			}
		}
		return false
	}
	return try(0, 0)
}
