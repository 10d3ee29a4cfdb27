package core_test

import (
	"testing"
	"time"

	"github.com/crewjam/saml"

	"sluice/core"
)

// Metadata is read again after a day, or sooner when its cacheDuration or validUntil
// says so.
func TestSAMLMetadataDue(t *testing.T) {
	read := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		ed   saml.EntityDescriptor
		want time.Time
	}{
		{"neither", saml.EntityDescriptor{}, read.Add(24 * time.Hour)},
		{"long cacheDuration", saml.EntityDescriptor{CacheDuration: 7 * 24 * time.Hour}, read.Add(24 * time.Hour)},
		{"short cacheDuration", saml.EntityDescriptor{CacheDuration: time.Hour}, read.Add(time.Hour)},
		{"validUntil sooner", saml.EntityDescriptor{ValidUntil: read.Add(3 * time.Hour), CacheDuration: 6 * time.Hour}, read.Add(3 * time.Hour)},
		{"validUntil later", saml.EntityDescriptor{ValidUntil: read.Add(48 * time.Hour)}, read.Add(24 * time.Hour)},
	}
	for _, tc := range cases {
		if got := core.SAMLMetadataDue(&tc.ed, read); !got.Equal(tc.want) {
			t.Errorf("%s: due %s, want %s", tc.name, got, tc.want)
		}
	}
}

// Sluice asks for a persistent NameID when the provider offers one, else takes what it
// sends; never transient.
func TestSAMLNameIDFormat(t *testing.T) {
	with := func(formats ...saml.NameIDFormat) *saml.EntityDescriptor {
		var d saml.IDPSSODescriptor
		d.NameIDFormats = formats
		return &saml.EntityDescriptor{IDPSSODescriptors: []saml.IDPSSODescriptor{d}}
	}
	if got := core.SAMLNameIDFormat(with(saml.TransientNameIDFormat, saml.PersistentNameIDFormat)); got != saml.PersistentNameIDFormat {
		t.Errorf("offered persistent: asks for %s", got)
	}
	if got := core.SAMLNameIDFormat(with(saml.TransientNameIDFormat)); got != saml.UnspecifiedNameIDFormat {
		t.Errorf("offered transient only: asks for %s", got)
	}
}
