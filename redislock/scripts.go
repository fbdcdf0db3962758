package redislock

import (
	"context"
	"crypto/sha1"
	_ "embed"
	"encoding/hex"

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

// run runs s on rdb with args (the number of keys, the keys, then the
// values) and returns its integer reply.
func (s script) run(ctx context.Context, rdb redis.UniversalClient, args ...any) (int64, error) {
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
