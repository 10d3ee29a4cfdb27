package jobs

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// A platform's rate limit is the platform's, not one instance's: when several instances
// of Sluice send to it at once, each paces 1/n of it. While one of its runs sends to a
// platform, an instance keeps a row of platform_senders fresh and counts the fresh rows
// of that platform every few seconds (one small indexed query, never one per request);
// the row goes when its last run for the platform ends. An instance that dies leaves a
// row that goes stale within two leases: the others stop counting it, then prune it.

// sharedPace is this instance's side of that: the runs sending to each platform, and the
// share of its rate last counted.
type sharedPace struct {
	mu      sync.Mutex
	shares  map[string]float64         // per platform: this instance's part of its rate
	senders map[string]*platformSender // per platform: while runs send to it
	pruned  time.Time                  // when stale rows were last deleted
}

// platformSender keeps an instance's row for one platform fresh while runs send to it.
type platformSender struct {
	runs   int
	stop   context.CancelFunc
	ready  chan struct{} // closed once the share was first counted
	exited chan struct{} // closed once the row is removed
}

// shareEvery is how often an instance sending to a platform beats its row and counts
// the others: a few seconds, sooner with a short lease.
func (s *Runner) shareEvery() time.Duration {
	return min(max(s.opts.Lease/10, 50*time.Millisecond), 5*time.Second)
}

// senderFresh is how long a row counts without a beat: an instance that stopped beating
// for two leases has died, as the reaper sees its runs.
func (s *Runner) senderFresh() time.Duration { return 2 * s.opts.Lease }

// share is this instance's last counted part of the platform's rate, 1 when none was.
func (p *sharedPace) share(platformID string) float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if sh, ok := p.shares[platformID]; ok {
		return sh
	}
	return 1
}

// sending records that one more run of this instance sends to the platform, with the
// share counted before it sends its first request; done records that it ended, and when
// it was the platform's last run here, removes the instance's row before answering.
func (s *Runner) sending(platformID string) (done func()) {
	p := &s.pace
	p.mu.Lock()
	if p.senders == nil {
		p.senders = map[string]*platformSender{}
	}
	ps := p.senders[platformID]
	if ps == nil || ps.runs == 0 {
		// The last run's sender may still be removing its row: the next one waits for it.
		prev := ps
		ctx, cancel := context.WithCancel(context.Background())
		ps = &platformSender{stop: cancel, ready: make(chan struct{}), exited: make(chan struct{})}
		p.senders[platformID] = ps
		go s.keepSending(ctx, platformID, prev, ps)
	}
	ps.runs++
	p.mu.Unlock()
	<-ps.ready
	return sync.OnceFunc(func() {
		p.mu.Lock()
		ps.runs--
		last := ps.runs == 0
		p.mu.Unlock()
		if !last {
			return
		}
		ps.stop()
		<-ps.exited
		p.mu.Lock()
		if p.senders[platformID] == ps && ps.runs == 0 {
			delete(p.senders, platformID)
		}
		p.mu.Unlock()
	})
}

// keepSending beats the instance's row for the platform and sets its share until ctx
// ends, then removes the row.
func (s *Runner) keepSending(ctx context.Context, platformID string, prev, ps *platformSender) {
	defer close(ps.exited)
	if prev != nil {
		<-prev.exited
	}
	s.refreshShare(ctx, platformID)
	close(ps.ready)
	t := time.NewTicker(s.shareEvery())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			rctx, cancel := context.WithTimeout(context.Background(), s.opts.Lease)
			defer cancel()
			if err := s.store.RemovePlatformSender(rctx, platformID, s.owner); err != nil {
				// Left to go stale: the others stop counting it within two leases.
				s.log.Warn("remove platform sender", slog.String("platform_id", platformID), slog.Any("error", err))
			}
			return
		case <-t.C:
			s.refreshShare(ctx, platformID)
		}
	}
}

// refreshShare beats the instance's row for the platform and sets its limiter's share to
// 1/n, n the instances sending to the platform now; once per freshness period it also
// deletes the rows of instances that stopped without removing theirs. When the database
// does not answer, the share stays as last counted.
func (s *Runner) refreshShare(ctx context.Context, platformID string) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.Lease/3)
	defer cancel()
	n, err := s.store.BeatPlatformSender(ctx, platformID, s.owner, s.senderFresh())
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("count platform senders", slog.String("platform_id", platformID), slog.Any("error", err))
		}
		return
	}
	s.setShare(platformID, 1/float64(n))
	p := &s.pace
	p.mu.Lock()
	prune := time.Since(p.pruned) >= s.senderFresh()
	if prune {
		p.pruned = time.Now()
	}
	p.mu.Unlock()
	if prune {
		if _, err := s.store.PrunePlatformSenders(ctx, s.senderFresh()); err != nil && ctx.Err() == nil {
			s.log.Warn("prune platform senders", slog.Any("error", err))
		}
	}
}

// setShare records this instance's part of the platform's rate and applies it to the
// platform's limiter; a limiter made later starts with it (limiter).
func (s *Runner) setShare(platformID string, share float64) {
	p := &s.pace
	p.mu.Lock()
	if p.shares == nil {
		p.shares = map[string]float64{}
	}
	p.shares[platformID] = share
	p.mu.Unlock()
	s.mu.Lock()
	l := s.limiters[platformID]
	s.mu.Unlock()
	if l != nil {
		l.SetShare(share)
	}
}
