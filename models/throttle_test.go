package models_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"sluice/internal/testutil"
	"sluice/models"
)

// clock is a settable time for the store.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock(s *models.Store) *clock {
	c := &clock{now: time.Now().UTC().Truncate(time.Second)} // PostgreSQL keeps microseconds
	models.SetClock(s, c.Now)
	return c
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// waitOf is the wait of a *models.ThrottledError, failing the test on any other error.
func waitOf(t *testing.T, err error) time.Duration {
	t.Helper()
	var te *models.ThrottledError
	if !errors.As(err, &te) || !errors.Is(err, models.ErrThrottled) {
		t.Fatalf("err = %v, want a *models.ThrottledError", err)
	}
	return te.Wait
}

// failSignIns tries a wrong password n times and wants each refused as such.
func failSignIns(t *testing.T, s *models.Store, n int, email, ip string) {
	t.Helper()
	for i := range n {
		if _, err := s.Authenticate(t.Context(), email, "wrong password", ip); !errors.Is(err, models.ErrBadCredentials) {
			t.Fatalf("failure %d of %s from %s: err = %v, want ErrBadCredentials", i+1, email, ip, err)
		}
	}
}

// TestSignInThrottleCannotLockOthersOut replays the lockout: five wrong passwords for
// an e-mail from one address used to keep the right password out from every address
// for 15 minutes. Now only the failing address waits.
func TestSignInThrottleCannotLockOthersOut(t *testing.T) {
	t.Parallel()
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		_, a := testutil.Admin(t, s)
		addUser(t, s, a, "bob@example.com", models.RoleViewer)
		const attacker, victim = "203.0.113.66", "198.51.100.7"

		failSignIns(t, s, 5, "Admin@Example.com", attacker)

		// The account's owner, elsewhere, signs in at once, and again after a typo.
		if u, err := s.Authenticate(ctx, "admin@example.com", testutil.Password, victim); err != nil || u.Email != "admin@example.com" {
			t.Fatalf("victim's address: %v, %v; want signed in", u, err)
		}
		failSignIns(t, s, 1, "admin@example.com", victim)
		if _, err := s.Authenticate(ctx, "admin@example.com", testutil.Password, victim); err != nil {
			t.Fatalf("victim after a typo: err = %v, want signed in", err)
		}

		// The attacker's address waits for this e-mail, right password or not, and is
		// told how long.
		for _, tc := range []struct{ name, email, password string }{
			{"wrong password", "admin@example.com", "wrong password"},
			{"right password", "admin@example.com", testutil.Password},
			{"e-mail in capitals", "ADMIN@EXAMPLE.COM ", testutil.Password},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := s.Authenticate(ctx, tc.email, tc.password, attacker)
				if w := waitOf(t, err); w <= 0 || w > time.Minute {
					t.Errorf("wait %s, want up to a minute", w)
				}
			})
		}
		// The same address may still sign in to another account: it has not reached
		// the cap of failures from one address.
		if _, err := s.Authenticate(ctx, "bob@example.com", testutil.Password, attacker); err != nil {
			t.Errorf("another e-mail from the attacker's address: err = %v", err)
		}
	})
}

// TestSignInBackoffGrows steps a clock through the waits: after 5 failures 1 minute,
// then 2, 4, 8 and at most 15; a success clears them, a quiet day forgets them.
func TestSignInBackoffGrows(t *testing.T) {
	t.Parallel()
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		testutil.Admin(t, s)
		clk := newClock(s)
		const ip = "203.0.113.9"
		try := func(password string) error {
			_, err := s.Authenticate(ctx, "admin@example.com", password, ip)
			return err
		}

		failSignIns(t, s, 5, "admin@example.com", ip)
		for _, want := range []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 15 * time.Minute, 15 * time.Minute} {
			if got := waitOf(t, try("wrong password")); got != want {
				t.Fatalf("wait %s, want %s", got, want)
			}
			clk.Add(want - time.Second)
			if got := waitOf(t, try(testutil.Password)); got != time.Second {
				t.Fatalf("a second before the end: wait %s, want 1s", got)
			}
			clk.Add(time.Second)
			failSignIns(t, s, 1, "admin@example.com", ip)
		}

		// The right password, once the wait is over, clears the failures.
		clk.Add(15 * time.Minute)
		if err := try(testutil.Password); err != nil {
			t.Fatalf("after the wait: err = %v, want signed in", err)
		}
		failSignIns(t, s, 5, "admin@example.com", ip)
		waitOf(t, try(testutil.Password))

		// A day without a failure forgets them too.
		clk.Add(24 * time.Hour)
		failSignIns(t, s, 5, "admin@example.com", ip)
		if got := waitOf(t, try("wrong password")); got != time.Minute {
			t.Errorf("after a quiet day: wait %s, want 1m", got)
		}
	})
}

// TestSignInAddressCap: one address guessing across many e-mails (credential stuffing)
// waits after 20 failures, even when it signs in to an account of its own between
// guesses; other addresses do not.
func TestSignInAddressCap(t *testing.T) {
	t.Parallel()
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		testutil.Admin(t, s)
		newClock(s)
		const ip = "203.0.113.50"
		for i := range 19 {
			failSignIns(t, s, 1, fmt.Sprintf("guess%d@example.com", i), ip)
			if i == 9 {
				if _, err := s.Authenticate(ctx, "admin@example.com", testutil.Password, ip); err != nil {
					t.Fatalf("own account from the address: err = %v", err)
				}
			}
		}
		failSignIns(t, s, 1, "guess19@example.com", ip)
		if w := waitOf(t, func() error { _, err := s.Authenticate(ctx, "admin@example.com", testutil.Password, ip); return err }()); w != time.Minute {
			t.Errorf("21st try from the address: wait %s, want 1m", w)
		}
		if _, err := s.Authenticate(ctx, "admin@example.com", testutil.Password, "203.0.113.51"); err != nil {
			t.Errorf("another address: err = %v, want it to sign in", err)
		}
	})
}

// TestSignInThrottleIPv6: an IPv6 subscriber holds a /64, so its addresses count as one.
func TestSignInThrottleIPv6(t *testing.T) {
	t.Parallel()
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		testutil.Admin(t, s)
		for i := range 5 {
			failSignIns(t, s, 1, "admin@example.com", fmt.Sprintf("2001:db8:1:2::%x", i+1))
		}
		_, err := s.Authenticate(ctx, "admin@example.com", testutil.Password, "2001:db8:1:2:ffff::99")
		waitOf(t, err)
		if _, err := s.Authenticate(ctx, "admin@example.com", testutil.Password, "2001:db8:1:3::1"); err != nil {
			t.Errorf("another /64: err = %v, want it to sign in", err)
		}
	})
}

// TestSignInThrottleHoldsUnderBursts: wrong passwords sent all at once from one address
// do not all slip past the count: 5 are checked, the others wait.
func TestSignInThrottleHoldsUnderBursts(t *testing.T) {
	t.Parallel()
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		testutil.Admin(t, s)
		const tries = 16
		errs := make(chan error, tries)
		var wg sync.WaitGroup
		for range tries {
			wg.Go(func() {
				_, err := s.Authenticate(t.Context(), "admin@example.com", "wrong password", "203.0.113.77")
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		checked := 0
		for err := range errs {
			switch {
			case errors.Is(err, models.ErrBadCredentials):
				checked++
			case errors.Is(err, models.ErrThrottled):
			default:
				t.Errorf("err = %v", err)
			}
		}
		if checked != 5 {
			t.Errorf("%d of %d simultaneous wrong passwords were checked, want 5", checked, tries)
		}

		// Right and wrong passwords together from one address: a success clears what the
		// tries beside it take, in the same order, so none fails on a lock.
		errs = make(chan error, tries)
		for i := range tries {
			wg.Go(func() {
				password := "wrong password"
				if i%2 == 0 {
					password = testutil.Password
				}
				_, err := s.Authenticate(t.Context(), "admin@example.com", password, "203.0.113.78")
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil && !errors.Is(err, models.ErrBadCredentials) && !errors.Is(err, models.ErrThrottled) {
				t.Errorf("err = %v", err)
			}
		}
	})
}

// TestAPITokenThrottle: after 20 bad tokens from one address, its bad tokens wait
// (counting nothing more) while a valid token still passes, from it and from another
// address, and the wait ends.
func TestAPITokenThrottle(t *testing.T) {
	t.Parallel()
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		_, a := testutil.Admin(t, s)
		clk := newClock(s)
		_, good, err := s.CreateAPIToken(ctx, a, "ci", models.RoleViewer)
		if err != nil {
			t.Fatal(err)
		}
		const attacker, other = "203.0.113.5", "198.51.100.5"
		for i := range 20 {
			if _, err := s.APITokenFrom(ctx, fmt.Sprintf("slu_guess%d", i), attacker); !errors.Is(err, models.ErrNotFound) {
				t.Fatalf("bad token %d: err = %v, want ErrNotFound", i+1, err)
			}
		}
		for range 2 { // the wait is not lengthened by the tries it refuses
			_, err := s.APITokenFrom(ctx, "slu_guess20", attacker)
			if w := waitOf(t, err); w != time.Minute {
				t.Errorf("bad token from the attacker's address: wait %s, want 1m", w)
			}
		}
		for _, ip := range []string{attacker, other} {
			if tok, err := s.APITokenFrom(ctx, good, ip); err != nil || tok.Name != "ci" {
				t.Errorf("good token from %s: %v, %v", ip, tok, err)
			}
		}
		clk.Add(time.Minute)
		if _, err := s.APITokenFrom(ctx, "slu_guess21", attacker); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("bad token after the wait: err = %v", err)
		}
		if w := waitOf(t, func() error { _, err := s.APITokenFrom(ctx, "slu_guess22", attacker); return err }()); w != 2*time.Minute {
			t.Errorf("next wait %s, want 2m", w)
		}
	})
}

// TestPruneThrottles forgets buckets a day after their last failure.
func TestPruneThrottles(t *testing.T) {
	t.Parallel()
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		testutil.Admin(t, s)
		clk := newClock(s)
		failSignIns(t, s, 5, "admin@example.com", "203.0.113.1")
		if n, err := s.PruneThrottles(ctx); err != nil || n != 0 {
			t.Fatalf("PruneThrottles = %d, %v; want nothing pruned yet", n, err)
		}
		clk.Add(25 * time.Hour)
		if n, err := s.PruneThrottles(ctx); err != nil || n != 2 {
			t.Fatalf("PruneThrottles = %d, %v; want the pair and the address pruned", n, err)
		}
	})
}
