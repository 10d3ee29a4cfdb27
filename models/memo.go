package models

import "sync"

// memo remembers what a pure function answered for a key: an activation's JSON columns
// decoded, a schedule's time zone and cron expression parsed. Lists decode the same
// few hundred values on every request; each takes microseconds and allocates. It holds
// at most memoSize keys and forgets them all when full, which a workspace's set of
// distinct values never fills in practice.
type memo[K comparable, V any] struct {
	mu sync.Mutex
	m  map[K]V
}

const memoSize = 4096

// get answers f(k), computed once while k is remembered. Callers must not modify what
// it answers (copy maps and slices before handing them out).
func (c *memo[K, V]) get(k K, f func(K) V) V {
	c.mu.Lock()
	v, ok := c.m[k]
	c.mu.Unlock()
	if ok {
		return v
	}
	v = f(k)
	c.mu.Lock()
	if c.m == nil || len(c.m) >= memoSize {
		c.m = make(map[K]V)
	}
	c.m[k] = v
	c.mu.Unlock()
	return v
}
