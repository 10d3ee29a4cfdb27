package main

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"gorm.io/gorm"
)

// cost is what this process and the database's backends have spent so far: CPU time is
// what other work on the machine slows least, and allocations do not depend on it at all,
// so both compare code on a shared machine where latencies cannot.
type cost struct {
	cpu     time.Duration
	mallocs uint64
	// backends is the CPU time of each PostgreSQL backend serving the load database.
	backends map[int]time.Duration
}

// costNow reads the cost counters; db finds the database's backends.
func costNow(ctx context.Context, db *gorm.DB) cost {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return cost{cpu: cpuTime(), mallocs: ms.Mallocs, backends: backendCPU(ctx, db)}
}

// since is the cost spent between from and c, per request.
func (c cost) since(from cost, requests int) (cpu time.Duration, allocs uint64, pg time.Duration) {
	if requests == 0 {
		return 0, 0, 0
	}
	var backends time.Duration
	for pid, t := range c.backends {
		backends += t - from.backends[pid] // a backend started since counts from zero
	}
	n := time.Duration(requests)
	return (c.cpu - from.cpu) / n, (c.mallocs - from.mallocs) / uint64(requests), backends / n
}

// cpuTime is the user and system CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// backendCPU is the CPU time of each backend connected to this database, read from
// /proc (the server runs on this machine); none when it cannot be read.
func backendCPU(ctx context.Context, db *gorm.DB) map[int]time.Duration {
	var pids []int
	if db.WithContext(ctx).Raw("SELECT pid FROM pg_stat_activity WHERE datname = current_database()").Scan(&pids).Error != nil {
		return nil
	}
	out := make(map[int]time.Duration, len(pids))
	for _, pid := range pids {
		raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			continue
		}
		// The fields after the command's closing parenthesis; utime and stime are the
		// 14th and 15th of the whole line, in clock ticks (100 a second on Linux).
		_, rest, ok := strings.Cut(string(raw), ") ")
		f := strings.Fields(rest)
		if !ok || len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		out[pid] = time.Duration(u+s) * 10 * time.Millisecond
	}
	return out
}
