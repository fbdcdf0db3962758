package redisproc

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// CountCommands returns the number of commands the server has run, from
// INFO commandstats: the calls of every command except INFO itself, so
// that counting does not count.
func CountCommands(ctx context.Context, rdb redis.UniversalClient) (int64, error) {
	info, err := rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		return 0, fmt.Errorf("INFO commandstats: %w", err)
	}
	return ParseCommandStats(info)
}

// ParseCommandStats sums the calls of the lines
// "cmdstat_<name>:calls=N,..." of an INFO commandstats reply, leaving out
// cmdstat_info.
func ParseCommandStats(info string) (int64, error) {
	var total int64
	for line := range strings.SplitSeq(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		if name == "cmdstat_info" {
			continue
		}
		for field := range strings.SplitSeq(rest, ",") {
			if v, ok := strings.CutPrefix(field, "calls="); ok {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					return 0, fmt.Errorf("commandstats: bad line %q", line)
				}
				total += n
			}
		}
	}
	return total, nil
}
