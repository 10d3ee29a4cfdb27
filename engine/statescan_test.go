package engine

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// funcState is a State whose Scan is a function.
type funcState struct {
	scan func(ctx context.Context, fn func(KeyHash) error) error
}

func (s funcState) Scan(ctx context.Context, _ string, fn func(KeyHash) error) error {
	return s.scan(ctx, fn)
}
func (funcState) Commit(context.Context, string, Commit) error         { return nil }
func (funcState) Reset(context.Context, string) error                  { return nil }
func (funcState) Answer(context.Context, string, string, Answer) error { return nil }

func yieldKeys(n int, then error) func(context.Context, func(KeyHash) error) error {
	return func(ctx context.Context, fn func(KeyHash) error) error {
		for i := range n {
			if err := fn(KeyHash{Key: fmt.Sprintf("k%06d", i), Hash: uint64(i + 2)}); err != nil {
				return err
			}
		}
		return then
	}
}

func TestReadStateStreamsEveryKeyThenEnds(t *testing.T) {
	for _, n := range []int{0, 1, stateChunk - 1, stateChunk, 3*stateChunk + 7} {
		r := &run{state: funcState{yieldKeys(n, nil)}}
		next, stop := r.readState(context.Background())
		for i := range n {
			kh, err, ok := next()
			if !ok || err != nil || kh.Key != fmt.Sprintf("k%06d", i) || kh.Hash != uint64(i+2) {
				t.Fatalf("n=%d key %d: %+v %v %v", n, i, kh, err, ok)
			}
		}
		if _, err, ok := next(); ok || err != nil {
			t.Fatalf("n=%d: the stream did not end: %v %v", n, err, ok)
		}
		stop()
	}
}

func TestReadStateReportsTheScanError(t *testing.T) {
	boom := errors.New("boom")
	r := &run{state: funcState{yieldKeys(stateChunk+5, boom)}}
	next, stop := r.readState(context.Background())
	defer stop()
	for range stateChunk + 5 {
		if _, err, ok := next(); !ok || err != nil {
			t.Fatalf("%v %v", err, ok)
		}
	}
	if _, err, ok := next(); !ok || !errors.Is(err, boom) {
		t.Fatalf("want boom, got %v %v", err, ok)
	}
	if _, err, ok := next(); ok || err != nil {
		t.Fatalf("after the error: %v %v", err, ok)
	}
}

// stop ends a Scan in the middle, even one that ignores its context, and returns once
// Scan has.
func TestReadStateStopEndsTheScan(t *testing.T) {
	returned := make(chan struct{})
	r := &run{state: funcState{func(ctx context.Context, fn func(KeyHash) error) error {
		defer close(returned)
		return yieldKeys(100*stateChunk, nil)(context.Background(), fn)
	}}}
	next, stop := r.readState(context.Background())
	if _, err, ok := next(); !ok || err != nil {
		t.Fatal(err)
	}
	stop()
	select {
	case <-returned:
	default:
		t.Fatal("stop returned before Scan did")
	}
}

// A cancelled run's state stream ends with the context's error, never silently: a
// stream cut short must not read as the end of the stored state.
func TestReadStateCancelledIsAnError(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r := &run{state: funcState{yieldKeys(100*stateChunk, nil)}}
	next, stop := r.readState(ctx)
	defer stop()
	cancel()
	for {
		_, err, ok := next()
		if !ok {
			t.Fatal("the stream ended without an error")
		}
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("got %v", err)
			}
			return
		}
	}
}
