package redislock

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	_ "embed"
	"encoding/hex"
	"time"

	"github.com/redis/go-redis/v9"
)

// The scripts are constant: keys travel in KEYS and values in ARGV, so the
// server's script cache holds exactly these three whatever the names and
// tokens. A script is sent as EVALSHA and, on NOSCRIPT (what a restarted
// server or SCRIPT FLUSH answers), as EVAL, which caches it again.
var (
	//go:embed lua/lock.lua
	lockSrc    string
	lockScript = newScript(lockSrc)

	//go:embed lua/extend.lua
	extendSrc    string
	extendScript = newScript(extendSrc)

	//go:embed lua/fenced_set.lua
	fencedSetSrc    string
	fencedSetScript = redis.NewScript(fencedSetSrc)
)

// A script is one of the lock scripts, with its body and SHA1 boxed once so
// that a call allocates only its argument list and go-redis's command.
type script struct {
	src any // string: the body, for EVAL
	sha any // string: the body's SHA1 in hex, for EVALSHA
}

func newScript(src string) script {
	h := sha1.Sum([]byte(src))
	return script{src: src, sha: hex.EncodeToString(h[:])}
}

// cmd returns the EVALSHA command of s with args (the number of keys, the
// keys, then the values). Only the typed calls build args. Strings go as
// *string, which go-redis writes (and a Cluster client hashes) as the
// string, so that passing them boxes nothing.
func (s script) cmd(ctx context.Context, args ...any) *redis.Cmd {
	cmdArgs := make([]any, 2, 2+len(args))
	cmdArgs[0], cmdArgs[1] = "evalsha", s.sha
	return redis.NewCmd(ctx, append(cmdArgs, args...)...)
}

// withBody returns cmd, an EVALSHA of one of the package's scripts that
// found it missing from the server's cache, as the EVAL that sends its
// body (and caches it again).
func withBody(ctx context.Context, cmd *redis.Cmd) *redis.Cmd {
	args := cmd.Args()
	for _, s := range [...]*script{&lockScript, &extendScript, &semScript, &rwScript} {
		if args[1] == s.sha {
			args[0], args[1] = "eval", s.src
			return redis.NewCmd(ctx, args...)
		}
	}
	return cmd
}

// process runs cmd, an EVALSHA, on rdb, again as EVAL if the server does
// not have the script, and returns the command that ran.
func process(ctx context.Context, rdb redis.UniversalClient, cmd *redis.Cmd) (*redis.Cmd, error) {
	err := rdb.Process(ctx, cmd)
	if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		cmd = withBody(ctx, cmd)
		err = rdb.Process(ctx, cmd)
	}
	return cmd, err
}

// eval runs s on rdb with args (see cmd) and returns its integer reply.
func (s script) eval(ctx context.Context, rdb redis.UniversalClient, args ...any) (int64, error) {
	cmd, err := process(ctx, rdb, s.cmd(ctx, args...))
	if err != nil {
		return 0, err
	}
	return cmd.Int64()
}

// evalInts runs s on rdb with args (see cmd) and returns its reply, an
// array of integers.
func (s script) evalInts(ctx context.Context, rdb redis.UniversalClient, args ...any) ([]int64, error) {
	cmd, err := process(ctx, rdb, s.cmd(ctx, args...))
	if err != nil {
		return nil, err
	}
	return cmd.Int64Slice()
}

// runAll runs cmds, EVALSHAs of the package's scripts, in one pipeline,
// and those that find their script missing (NOSCRIPT) in a second one as
// EVAL. The outcome is in cmds, which it updates.
func runAll(ctx context.Context, rdb redis.UniversalClient, cmds []*redis.Cmd) {
	pipe := func(cmds []*redis.Cmd) {
		_, _ = rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, cmd := range cmds {
				_ = p.Process(ctx, cmd)
			}
			return nil
		})
	}
	pipe(cmds)
	var again []*redis.Cmd
	for i, cmd := range cmds {
		if err := cmd.Err(); err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
			cmds[i] = withBody(ctx, cmd)
			again = append(again, cmds[i])
		}
	}
	if len(again) > 0 {
		pipe(again)
	}
}

// A token identifies one acquisition to the scripts: whoever presents it
// may release or extend the lock it holds. It is 26 base32 characters, 130
// random bits from crypto/rand, so nobody can guess or choose another's.
// Calls take it by pointer (see eval); a token's text never changes.
type token = *string

// newToken returns a fresh random token.
func newToken() token {
	t := rand.Text()
	return &t
}

// A millis is a duration passed to a script in whole milliseconds, kept
// converted to an interface: go-redis takes its arguments as []any, and
// converting an int64 above 255 allocates.
type millis struct{ arg any }

func newMillis(d time.Duration) millis { return millis{d.Milliseconds()} }

// duration returns m as a time.Duration.
func (m millis) duration() time.Duration { return time.Duration(m.arg.(int64)) * time.Millisecond }

// The operations of lua/lock.lua (ARGV[1]), and the values of its probe
// (ARGV[3]).
var (
	opAcquire any = "acquire"
	opRelease any = "release"
	probeOn   any = "1"
	probeOff  any = "0"
	noStamp   any = "0"
	noChannel     = new(string)
	noEntry       = newMillis(0)
)

// acquireCall is a call of its target's acquire: take the target for
// token, confirm that token holds it, or, with a queue entry's lifetime,
// queue token (or refresh its entry) while the target is not free. Its
// reply decodes with obtained.
type acquireCall struct {
	t       target
	token   token
	probe   any     // probeOn or probeOff: the transport's
	ttl     millis  // the lease TTL
	weight  any     // int64: a semaphore's weight; nil for the other targets
	entry   millis  // the queue entry's lifetime; zero for a caller that does not wait
	channel *string // the Client's channel for the grant, or noChannel
	stamp   any     // string: the waiter's stamp of this request (see hub), or noStamp
}

func (c acquireCall) run(ctx context.Context, rdb redis.UniversalClient) (int64, error) {
	return c.t.acquire(ctx, rdb, c)
}

// releaseCall is a call of its target's release: release what token
// holds, handing it on to the waiters that now get it, or take token off
// the queue. Its reply decodes with acted.
type releaseCall struct {
	t     target
	token token
	probe any
}

func (c releaseCall) run(ctx context.Context, rdb redis.UniversalClient) (int64, error) {
	return c.t.release(ctx, rdb, c)
}

// obtained decodes the acquire's reply: the fence when the token holds the
// target, and otherwise -2 minus the time (ms) until a holder's lease
// ends, when the target may come free without a release (-1 for unknown).
func obtained(r int64) (bool, int64) {
	if r >= 0 {
		return true, r
	}
	return false, -2 - r
}

// extendCall is a call of its target's renewal, or with op opDowngrade of
// an RW lock's downgrade: reset the TTL of the lease that token holds
// (and, for a downgrade, make it a reader's). Its reply decodes with
// acted.
type extendCall struct {
	t     target
	op    any // nil for a renewal, or opDowngrade
	token token
	probe any
	ttl   millis // the new TTL
}

func (c extendCall) run(ctx context.Context, rdb redis.UniversalClient) (int64, error) {
	cmd, err := process(ctx, rdb, c.cmd(ctx))
	if err != nil {
		return 0, err
	}
	return cmd.Int64()
}

// cmd returns c's command, for a pipeline (see runAll).
func (c extendCall) cmd(ctx context.Context) *redis.Cmd { return c.t.renew(ctx, c) }

// acted decodes the reply of the release and extend scripts: 1 when the
// token acted.
func acted(r int64) (bool, int64) { return r == 1, 0 }
