package models

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Throttling is counted in the database, so every instance sees the same counts. A
// bucket is what one rule counts failures of: an address and an e-mail together (so a
// stranger's failures never lock anyone else out), or an address alone (a cap on
// guessing across accounts or tokens). Failures past a rule's free ones earn a wait
// that doubles with each further failure, up to a ceiling; a bucket with no failure
// for a while starts again from nothing.
type throttleRule struct {
	name   string        // starts the bucket key
	free   int           // failures allowed before any wait
	first  time.Duration // the wait after the free failures
	max    time.Duration // waits double up to this
	forget time.Duration // a bucket this long without a failure starts again at zero
}

var (
	// signInPair: 5 wrong passwords for one e-mail from one address, then 1, 2, 4, 8
	// and 15 minutes between tries; a success clears it.
	signInPair = throttleRule{name: "sign-in", free: 5, first: time.Minute, max: 15 * time.Minute, forget: 24 * time.Hour}
	// signInAddress: 20 failed sign-ins from one address, whatever the e-mails
	// (credential stuffing), then the same doubling waits. Successes do not clear it.
	signInAddress = throttleRule{name: "sign-in-address", free: 20, first: time.Minute, max: 15 * time.Minute, forget: time.Hour}
	// emailStepAddress: the sign-in page's e-mail step, which tells what an e-mail signs
	// in with (so whether it has an account somewhere with single sign-on). Every
	// look-up counts, but a whole office signs in from one address (NAT) every morning:
	// 100 from one address, forgotten after 15 quiet minutes, then signInAddress's
	// doubling waits — an enumeration is slowed to a handful an hour.
	emailStepAddress = throttleRule{name: "email-step-address", free: 100, first: time.Minute, max: 15 * time.Minute, forget: 15 * time.Minute}
	// apiAddress: 20 bad API tokens from one address, then the same doubling waits.
	apiAddress = throttleRule{name: "api-address", free: 20, first: time.Minute, max: 15 * time.Minute, forget: time.Hour}
)

// wait is how long a bucket waits after its failures-th failure.
func (r throttleRule) wait(failures int) time.Duration {
	if failures < r.free {
		return 0
	}
	d := r.first
	for i := r.free; i < failures && d < r.max; i++ {
		d *= 2
	}
	return min(d, r.max)
}

// throttle is one bucket's row. Version changes on every write: a try updates the row
// only if nobody else did since it was read.
type throttle struct {
	Bucket        string
	Failures      int
	Version       int64
	LastFailureAt time.Time
	BlockedUntil  time.Time
}

func (throttle) TableName() string { return "throttles" }

// ErrThrottled is matched (errors.Is) by every *ThrottledError.
var ErrThrottled = errors.New("models: too many failures")

// ThrottledError says a try was refused unseen, and how long to wait before the next.
type ThrottledError struct {
	Wait time.Duration
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("models: too many failures, wait %s", e.Wait.Round(time.Second))
}

// Is makes errors.Is(err, ErrThrottled) true.
func (e *ThrottledError) Is(target error) bool { return target == ErrThrottled }

// addressKey is what an address is counted as: an IPv4 address, or the /64 an IPv6
// address is in, since one subscriber usually holds a whole /64.
func addressKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// bucketOf names a rule's bucket for these parts, hashed: the table never holds an
// e-mail in clear, and a long input makes no long key.
func bucketOf(r throttleRule, parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return r.name + ":" + hex.EncodeToString(h.Sum(nil)[:16])
}

// throttleRead is a bucket's state as a rule sees it now: its failures (zero once
// forgotten) and the wait still to run (zero when a try may go on).
func throttleRead(r throttleRule, row *throttle, now time.Time) (failures int, wait time.Duration) {
	if row == nil || now.Sub(row.LastFailureAt) >= r.forget {
		return 0, 0
	}
	if row.Failures >= r.free && now.Before(row.BlockedUntil) {
		return row.Failures, row.BlockedUntil.Sub(now)
	}
	return row.Failures, 0
}

// takeTry counts a try against a bucket as a failure before its outcome is known, so
// tries sent together all count; a success gives it back. It answers the wait still
// to run instead, counting nothing, when the bucket must wait.
func (s *Store) takeTry(tx *gorm.DB, r throttleRule, bucket string) (time.Duration, error) {
	for range 8 {
		now := s.now()
		var row throttle
		err := tx.Where("bucket = ?", bucket).Take(&row).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			row = throttle{Bucket: bucket, Failures: 1, Version: 1, LastFailureAt: now, BlockedUntil: now.Add(r.wait(1))}
			res := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&row)
			if res.Error != nil {
				return 0, translate(res.Error)
			}
			if res.RowsAffected == 1 {
				return 0, nil
			}
			continue // created by a try beside this one: read it
		}
		if err != nil {
			return 0, translate(err)
		}
		failures, wait := throttleRead(r, &row, now)
		if wait > 0 {
			return wait, nil
		}
		res := tx.Model(&throttle{}).Where("bucket = ? AND version = ?", bucket, row.Version).Updates(map[string]any{
			"failures": failures + 1, "version": row.Version + 1, "last_failure_at": now, "blocked_until": now.Add(r.wait(failures + 1)),
		})
		if res.Error != nil {
			return 0, translate(res.Error)
		}
		if res.RowsAffected == 1 {
			return 0, nil
		}
	}
	// Tries from one bucket kept overtaking this one: it is being hammered.
	return time.Second, nil
}

// giveBack undoes the failure takeTry counted for a try that succeeded.
func giveBack(tx *gorm.DB, bucket string) error {
	return translate(tx.Model(&throttle{}).Where("bucket = ? AND failures > 0", bucket).
		Updates(map[string]any{"failures": gorm.Expr("failures - 1"), "version": gorm.Expr("version + 1")}).Error)
}

// errWait rolls back a transaction whose try must wait.
var errWait = errors.New("models: wait")

// takeSignInTry counts a sign-in try of email from ip against the address and the
// (address, e-mail) pair together, or neither when either must wait.
func (s *Store) takeSignInTry(ctx context.Context, email, ip string) (pair, address string, err error) {
	addr := addressKey(ip)
	pair, address = bucketOf(signInPair, addr, email), bucketOf(signInAddress, addr)
	var wait time.Duration
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		// Always the address first, then the pair: one order, so no deadlock.
		w, err := s.takeTry(tx, signInAddress, address)
		if err != nil || w > 0 {
			wait = w
			return cmpOr(err, errWait)
		}
		if wait, err = s.takeTry(tx, signInPair, pair); err != nil || wait > 0 {
			return cmpOr(err, errWait)
		}
		return nil
	})
	if errors.Is(err, errWait) {
		return "", "", &ThrottledError{Wait: wait}
	}
	return pair, address, err
}

func cmpOr(err, other error) error {
	if err != nil {
		return err
	}
	return other
}

// signInSucceeded gives the address back its try and clears the pair's failures, in
// takeSignInTry's order (address, then pair), so the two never wait on each other.
func (s *Store) signInSucceeded(ctx context.Context, pair, address string) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := giveBack(tx, address); err != nil {
			return err
		}
		return translate(tx.Where("bucket = ?", pair).Delete(&throttle{}).Error)
	})
}

// APITokenFrom finds the token a request from ip presents, as APITokenByValue does.
// The token is looked up first: a valid one (160 random bits, which no one guesses)
// costs that one query, whatever its address did. Only an unknown token consults the
// address's throttle: past its free failures the address gets a *ThrottledError,
// counting nothing, and otherwise the bad token counts against it. So every guess is
// throttled, while the throttle costs nothing to the scripts that use a real token.
func (s *Store) APITokenFrom(ctx context.Context, value, ip string) (*APIToken, error) {
	t, err := s.APITokenByValue(ctx, value)
	if !errors.Is(err, ErrNotFound) {
		return t, err
	}
	// takeTry reads the bucket and answers its wait, if any, before it counts the try.
	// Bad tokens sent together may each pass before the wait holds them all: a few
	// more than the free ones, against 160 random bits.
	wait, err := s.takeTry(s.db.WithContext(ctx), apiAddress, bucketOf(apiAddress, addressKey(ip)))
	if err != nil {
		return nil, err
	}
	if wait > 0 {
		return nil, &ThrottledError{Wait: wait}
	}
	return nil, ErrNotFound
}

// TakeEmailStepTry counts a look-up of the sign-in page's e-mail step from the client
// address ip; one that must wait is refused with a *ThrottledError, counting nothing.
func (s *Store) TakeEmailStepTry(ctx context.Context, ip string) error {
	wait, err := s.takeTry(s.db.WithContext(ctx), emailStepAddress, bucketOf(emailStepAddress, addressKey(ip)))
	if err != nil {
		return err
	}
	if wait > 0 {
		return &ThrottledError{Wait: wait}
	}
	return nil
}

// PruneThrottles forgets buckets with no failure for a day, longer than any rule
// remembers one.
func (s *Store) PruneThrottles(ctx context.Context) (int64, error) {
	res := s.db.WithContext(ctx).Where("last_failure_at < ?", s.now().Add(-24*time.Hour)).Delete(&throttle{})
	return res.RowsAffected, translate(res.Error)
}
