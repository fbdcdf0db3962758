package redislock

import _ "embed"

// The server side of the weighted semaphore and of the reader/writer lock:
// one script each, every operation an ARGV[1] of it (see the head of each
// file for its keys, arguments and replies).
var (
	//go:embed lua/sem.lua
	semSrc    string
	semScript = newScript(semSrc)

	//go:embed lua/rw.lua
	rwSrc    string
	rwScript = newScript(rwSrc)
)

// The operations of lua/sem.lua and lua/rw.lua (ARGV[1]) that the mutex's
// script does not have.
var (
	opRenew     any = "renew"
	opResize    any = "resize"
	opStat      any = "stat"
	opRead      any = "read"
	opWrite     any = "write"
	opDowngrade any = "downgrade"
	noToken         = new(string) // resize's and stat's
)

// semaphoreQuorum returns the number of servers, out of servers
// independent ones, on which a Redlock holder of a semaphore of the given
// size must be granted its weight: q = ⌊size·servers/(size+1)⌋ + 1, which
// is servers − ⌊(servers−1)/(size+1)⌋, computed so that it cannot
// overflow. It is a majority only for size 1 (the mutex); with 5 servers
// it is 3 for size 1, 4 for sizes 2 and 3, and 5 for sizes from 4 on, when
// no server may be lost. It returns 0 for servers < 1, and 1 for size < 1
// (no server grants anything then).
//
// Draft for the package documentation (Redlock):
//
// A semaphore over N independent servers, each of which grants at most
// size weight at a time, needs a larger quorum q than a lock: with a
// majority it over-admits without any failure. For size 2 over 5 servers
// and q = 3, three holders of weight 1 fit: A on servers {1,2,3}, B on
// {3,4,5}, C on {1,2,4}; no server grants more than 2, yet 3 hold. In
// general, holders whose weights sum to more than size (so to at least
// size+1) each hold their weight on q servers; summed over the servers
// that is at least q·(size+1), and each server grants at most size, so
// some server would grant more than size if q·(size+1) > size·N. Hence
// q = ⌊size·N/(size+1)⌋ + 1 is safe, whatever the weights. No smaller
// quorum is: if q·(size+1) ≤ size·N, giving holder i (of size+1 holders of
// weight 1) the q servers from i·q on, cyclically, has each server grant
// at most ⌈(size+1)·q/N⌉ ≤ size. The semaphore survives the loss of
// N − q servers: none once size ≥ N−1, where q = N. The bound holds for
// holders granted under one size: q grows with the size, so after a
// Resize that grows it the holders granted under the smaller quorum are
// bounded only as that quorum allows, until they release. A
// reader/writer lock is safe with majorities: every conflict involves a
// writer, two majorities share a server, and the script on that server
// does not let a writer hold with anyone else.
func semaphoreQuorum(size int64, servers int) int {
	if servers < 1 {
		return 0
	}
	if size < 1 {
		return 1
	}
	n := int64(servers)
	if size >= n-1 {
		return servers
	}
	return int(n - (n-1)/(size+1))
}
