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
// server's script cache holds exactly these four whatever the names and
// tokens. A script is sent as EVALSHA and, on NOSCRIPT (what a restarted
// server or SCRIPT FLUSH answers), as EVAL, which caches it again.
var (
	//go:embed lua/obtain.lua
	obtainSrc    string
	obtainScript = newScript(obtainSrc)

	//go:embed lua/extend.lua
	extendSrc    string
	extendScript = newScript(extendSrc)

	//go:embed lua/release.lua
	releaseSrc    string
	releaseScript = newScript(releaseSrc)

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

// eval runs s on rdb with args (the number of keys, the keys, then the
// values) and returns its integer reply. Only the typed calls below build
// args.
func (s script) eval(ctx context.Context, rdb redis.UniversalClient, args ...any) (int64, error) {
	cmdArgs := make([]any, 2, 2+len(args))
	cmdArgs[0], cmdArgs[1] = "evalsha", s.sha
	cmdArgs = append(cmdArgs, args...)
	cmd := redis.NewCmd(ctx, cmdArgs...)
	err := rdb.Process(ctx, cmd)
	if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		cmdArgs[0], cmdArgs[1] = "eval", s.src
		cmd = redis.NewCmd(ctx, cmdArgs...)
		err = rdb.Process(ctx, cmd)
	}
	if err != nil {
		return 0, err
	}
	return cmd.Int64()
}

// A token identifies one acquisition to the scripts: whoever presents it
// may release or extend the lock it holds. It is 26 base32 characters, 130
// random bits from crypto/rand, so nobody can guess or choose another's.
// The string is kept converted to an interface, as the scripts' arguments
// take it.
type token struct{ arg any }

// newToken returns a fresh random token.
func newToken() token { return token{rand.Text()} }

// String returns the token.
func (t token) String() string { return t.arg.(string) }

// A millis is a duration passed to a script in whole milliseconds, kept
// converted to an interface: go-redis takes its arguments as []any, and
// converting an int64 above 255 allocates.
type millis struct{ arg any }

func newMillis(d time.Duration) millis { return millis{d.Milliseconds()} }

// duration returns m as a time.Duration.
func (m millis) duration() time.Duration { return time.Duration(m.arg.(int64)) * time.Millisecond }

// obtainCall is a call of lua/obtain.lua: take the lock for token, confirm
// that token holds it, or (entry > 0) queue token. Its reply decodes with
// obtained.
type obtainCall struct {
	keys  keys   // KEYS: the lock, its fence, its queue and the queue's deadlines
	token token  // ARGV[1]
	ttl   millis // ARGV[2]: the lease TTL
	entry millis // ARGV[3]: the queue entry's lifetime; noQueue for a caller that does not wait
}

func (c obtainCall) run(ctx context.Context, rdb redis.UniversalClient) (int64, error) {
	k := &c.keys
	return obtainScript.eval(ctx, rdb, 4, k.lockArg, k.fenceArg, k.queueArg, k.deadlinesArg, c.token.arg, c.ttl.arg, c.entry.arg)
}

// obtained decodes the obtain script's reply: the fence when the token
// holds the lock, the key's PTTL otherwise.
func obtained(r int64) (bool, int64) {
	if r >= 0 {
		return true, r
	}
	return false, -2 - r
}

// extendCall is a call of lua/extend.lua: reset the TTL of the lock that
// token holds. Its reply decodes with acted.
type extendCall struct {
	keys  keys   // KEYS[1]: the lock
	token token  // ARGV[1]
	ttl   millis // ARGV[2]: the new TTL
}

func (c extendCall) run(ctx context.Context, rdb redis.UniversalClient) (int64, error) {
	return extendScript.eval(ctx, rdb, 1, c.keys.lockArg, c.token.arg, c.ttl.arg)
}

// releaseCall is a call of lua/release.lua: release the lock that token
// holds or was handed, handing it to the next waiter, or take token off
// the lock's queue. Its reply decodes with acted.
type releaseCall struct {
	keys  keys  // KEYS: the lock, its queue and the queue's deadlines
	token token // ARGV[1]; ARGV[2] is the lock key, the waiters' channel; ARGV[3] the reservation
}

func (c releaseCall) run(ctx context.Context, rdb redis.UniversalClient) (int64, error) {
	k := &c.keys
	return releaseScript.eval(ctx, rdb, 3, k.lockArg, k.queueArg, k.deadlinesArg, c.token.arg, k.lockArg, reservation.arg)
}

// acted decodes the reply of the release and extend scripts: 1 when the
// token acted.
func acted(r int64) (bool, int64) { return r == 1, 0 }
