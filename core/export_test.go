package core

import "time"

// SetClock makes the service read the time from now, so tests can move past expiries.
func SetClock(s *Service, now func() time.Time) { s.now = now }

// SAMLMetadataDue and SAMLNameIDFormat are the metadata's rules, for tests.
var (
	SAMLMetadataDue  = samlMetadataDue
	SAMLNameIDFormat = samlNameIDFormat
)
