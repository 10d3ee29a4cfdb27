package engine

import (
	"context"
	"errors"
)

// stateChunk keys travel together from the state reader, and at most stateQueue chunks
// wait: the stored state is read a few thousand keys ahead of the merge, no more.
const (
	stateChunk = 1024
	stateQueue = 2
)

// readState reads the stored state as a stream, in a goroutine of its own so that the
// store's decoding runs beside the diff, handing keys over in chunks. next answers the
// next key (ok false at the end; an error once, last, when the reading did not reach
// the end); stop ends the reading and waits for the reader, so State.Scan has returned
// when stop does.
func (r *run) readState(ctx context.Context) (next func() (KeyHash, error, bool), stop func()) {
	sctx, cancel := context.WithCancel(ctx)
	chunks := make(chan []KeyHash, stateQueue)
	free := make(chan []KeyHash, stateQueue+2) // chunks read, for the reader to reuse
	newChunk := func() []KeyHash {
		select {
		case c := <-free:
			return c[:0]
		default:
			return make([]KeyHash, 0, stateChunk)
		}
	}
	// final is why the reading ended early (nil when it reached the end); it is written
	// before chunks is closed and read after.
	var final error
	go func() {
		defer close(chunks)
		send := func(keys []KeyHash) bool {
			select {
			case chunks <- keys:
				return true
			case <-sctx.Done():
				return false
			}
		}
		buf := newChunk()
		err := r.state.Scan(sctx, r.job.ActivationID, func(kh KeyHash) error {
			buf = append(buf, kh)
			if len(buf) == stateChunk {
				if !send(buf) {
					return errStopScan
				}
				buf = newChunk()
			}
			return nil
		})
		switch {
		case errors.Is(err, errStopScan):
			final = sctx.Err()
		case len(buf) > 0 && !send(buf): // the keys read before an error still count
			final = sctx.Err()
		case err != nil:
			final = err
		}
		if final == nil && sctx.Err() != nil {
			final = sctx.Err() // a Scan that ignores its context may return nil when stopped
		}
	}()

	var (
		cur      []KeyHash
		pos      int
		finished bool
	)
	next = func() (KeyHash, error, bool) {
		for pos >= len(cur) {
			if finished {
				return KeyHash{}, nil, false
			}
			if cur != nil {
				select {
				case free <- cur:
				default:
				}
				cur = nil
			}
			keys, ok := <-chunks
			if !ok {
				finished = true
				if final != nil {
					return KeyHash{}, final, true
				}
				return KeyHash{}, nil, false
			}
			cur, pos = keys, 0
		}
		kh := cur[pos]
		pos++
		return kh, nil, true
	}
	stop = func() {
		cancel()
		for range chunks {
		}
	}
	return next, stop
}

var errStopScan = errors.New("engine: scan stopped")
