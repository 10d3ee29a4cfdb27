package main

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
)

// driveWrk measures ep as drive does, but with wrk (a load generator written in C, two
// threads) as the clients, the way the figures were taken: this process's CPU
// time is then the server's alone. Non-2xx answers count as errors.
func driveWrk(ctx context.Context, db *gorm.DB, base string, ep endpoint, conns int, warmup, d time.Duration) (result, error) {
	args := []string{"-t2", "-c" + strconv.Itoa(conns), "--latency"}
	for name, values := range ep.header {
		for _, v := range values {
			args = append(args, "-H", name+": "+v)
		}
	}
	run := func(span time.Duration) (string, error) {
		cmd := exec.CommandContext(ctx, "wrk", append(args, "-d"+strconv.Itoa(max(1, int(span.Seconds())))+"s", base+ep.path)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("wrk: %w\n%s", err, out)
		}
		return string(out), nil
	}
	if _, err := run(warmup); err != nil {
		return result{}, err
	}
	from := costNow(ctx, db)
	out, err := run(d)
	if err != nil {
		return result{}, err
	}
	spent := costNow(ctx, db)
	r := result{name: ep.name, measuredPeriod: d, load: loadAverage()}
	r.rate, _ = strconv.ParseFloat(firstMatch(wrkRate, out), 64)
	r.p50, r.p99 = wrkDuration(firstMatch(wrkP50, out)), wrkDuration(firstMatch(wrkP99, out))
	r.max = wrkDuration(firstMatch(wrkMax, out))
	r.errors, _ = strconv.Atoi(firstMatch(wrkNon2xx, out))
	if n, _ := strconv.Atoi(firstMatch(wrkRequests, out)); n > 0 {
		r.requests = n
		r.cpu, r.allocs, r.pg = spent.since(from, n)
	}
	if r.rate == 0 || r.p99 == 0 {
		return r, fmt.Errorf("wrk: cannot read its report:\n%s", out)
	}
	return r, nil
}

var (
	wrkRate     = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkRequests = regexp.MustCompile(`(\d+) requests in`)
	wrkP50      = regexp.MustCompile(`\s50%\s+([0-9.]+[mu]?s)`)
	wrkP99      = regexp.MustCompile(`\s99%\s+([0-9.]+[mu]?s)`)
	wrkMax      = regexp.MustCompile(`Latency\s+\S+\s+\S+\s+([0-9.]+[mu]?s)`)
	wrkNon2xx   = regexp.MustCompile(`Non-2xx or 3xx responses:\s+(\d+)`)
)

func firstMatch(re *regexp.Regexp, s string) string {
	if m := re.FindStringSubmatch(s); m != nil {
		return m[1]
	}
	return ""
}

// wrkDuration reads wrk's "1.23ms", "456.00us" or "1.02s".
func wrkDuration(s string) time.Duration {
	unit := time.Second
	switch {
	case strings.HasSuffix(s, "us"):
		unit, s = time.Microsecond, strings.TrimSuffix(s, "us")
	case strings.HasSuffix(s, "ms"):
		unit, s = time.Millisecond, strings.TrimSuffix(s, "ms")
	default:
		s = strings.TrimSuffix(s, "s")
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0
	}
	return time.Duration(f * float64(unit))
}
