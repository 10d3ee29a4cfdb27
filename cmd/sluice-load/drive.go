package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"
)

// endpoint is one page or API answer to measure.
type endpoint struct {
	name   string
	path   string
	page   bool
	header http.Header
}

// result is one endpoint's figures over the measured time.
type result struct {
	name           string
	rate           float64
	p50, p99, max  time.Duration
	errors         int
	requests       int
	measuredPeriod time.Duration
	// cpu is this process's CPU time (server and clients) per request, which other work
	// on the machine slows less than it slows latency, allocs its allocations per
	// request, pg the database backends' CPU time per request; load is the 1-minute load
	// average when the endpoint was done.
	cpu    time.Duration
	allocs uint64
	pg     time.Duration
	load   string
}

// check asks once and refuses anything but 200, so a broken page is never measured as
// a fast one (a redirect to /login would be).
func (ep endpoint) check(ctx context.Context, base string) error {
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+ep.path, nil)
	if err != nil {
		return err
	}
	req.Header = ep.header.Clone()
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		if len(body) > 400 {
			body = body[:400]
		}
		return fmt.Errorf("%s: status %d\n%s", ep.name, res.StatusCode, body)
	}
	return nil
}

// drive sends requests to ep from conns clients, each on its own keep-alive connection,
// for warmup and then for d, and keeps the latencies of the requests sent during d.
func drive(ctx context.Context, db *gorm.DB, base string, ep endpoint, conns int, warmup, d time.Duration) result {
	transport := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	start := time.Now()
	measureFrom, stop := start.Add(warmup), start.Add(warmup+d)
	lat := make([][]time.Duration, conns)
	errs := make([]int, conns)
	var wg sync.WaitGroup
	var from cost
	costTimer := time.AfterFunc(warmup, func() { from = costNow(ctx, db) })
	defer costTimer.Stop()
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				t0 := time.Now()
				if t0.After(stop) {
					return
				}
				ok := get(ctx, client, base+ep.path, ep.header)
				if t0.Before(measureFrom) {
					continue
				}
				if !ok {
					errs[i]++
				}
				lat[i] = append(lat[i], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	spent := costNow(ctx, db)
	var all []time.Duration
	r := result{name: ep.name, measuredPeriod: d}
	for i := range conns {
		all = append(all, lat[i]...)
		r.errors += errs[i]
	}
	slices.Sort(all)
	r.requests = len(all)
	r.rate = float64(len(all)) / d.Seconds()
	r.load = loadAverage()
	if len(all) > 0 {
		r.cpu, r.allocs, r.pg = spent.since(from, len(all))
		r.p50 = all[len(all)*50/100]
		r.p99 = all[min(len(all)-1, len(all)*99/100)]
		r.max = all[len(all)-1]
	}
	return r
}

// get sends one request and reads the whole answer, true for a 200.
func get(ctx context.Context, client *http.Client, url string, header http.Header) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	req.Header = header.Clone()
	res, err := client.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode == http.StatusOK
}

// loadAverage is the machine's 1-minute load average, "?" where it cannot be read.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	if f := strings.Fields(string(b)); len(f) > 0 {
		return f[0]
	}
	return "?"
}
