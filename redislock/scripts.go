package redislock

import (
	_ "embed"

	"github.com/redis/go-redis/v9"
)

// The scripts are constant: keys travel in KEYS and values in ARGV, so the
// server's script cache holds exactly these four whatever the names and
// tokens. Script.Run sends EVALSHA and falls back to EVAL on NOSCRIPT, which
// is what a restarted server or SCRIPT FLUSH answers.
var (
	//go:embed lua/obtain.lua
	obtainSrc    string
	obtainScript = redis.NewScript(obtainSrc)

	//go:embed lua/extend.lua
	extendSrc    string
	extendScript = redis.NewScript(extendSrc)

	//go:embed lua/release.lua
	releaseSrc    string
	releaseScript = redis.NewScript(releaseSrc)

	//go:embed lua/fenced_set.lua
	fencedSetSrc    string
	fencedSetScript = redis.NewScript(fencedSetSrc)
)
