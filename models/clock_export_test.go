package models

import "time"

// SetClock makes the store read the time from now, so tests can step through waits.
func SetClock(s *Store, now func() time.Time) { s.now = now }
