package handlers_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"sluice/models"
)

// TestSSOChangesInOrganizationTrail: the single sign-on settings are the
// organization's, so their changes made on the settings page (save, remove, require on
// and off) and the SAML metadata read again with another certificate are in its audit
// trail, shown to its owners on Settings → Organization, as well as in the log of the
// workspace they were made in.
func TestSSOChangesInOrganizationTrail(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		a := ssoApp(t, dbURL)
		ctx := t.Context()
		owner, c, _ := ssoSetup(t, a)
		samlIdP := newSAMLIdP(t)
		csrf := c.csrf("/settings/sso")
		c.post("/settings/sso/saml", url.Values{"_csrf": {csrf}, "saml_provider_name": {"Campus IdP"}, "metadata_xml": {samlIdP.MetadataXML(t)},
			"saml_default_role": {"viewer"}}).want(t, http.StatusSeeOther)
		if err := a.store.SetSAMLMetadata(ctx, owner.OrganizationID, models.SAMLMetadataRead{XML: samlIdP.MetadataXML(t), ReadAt: time.Now(),
			Before: map[string]any{"certificates": []string{"old"}}, After: map[string]any{"certificates": []string{"new"}}}); err != nil {
			t.Fatal(err)
		}
		c.post("/settings/sso/require", url.Values{"_csrf": {csrf}, "require": {"0"}}).want(t, http.StatusSeeOther)
		c.post("/settings/sso/remove", url.Values{"_csrf": {csrf}}).want(t, http.StatusSeeOther)

		page := c.get("/settings/workspaces").want(t, http.StatusOK)
		var rows []string
		page.Doc(t).Find("[data-testid=organization-audit-row]").Each(func(_ int, s *goquery.Selection) {
			action, _ := s.Attr("data-action")
			rows = append(rows, action+" by "+strings.TrimSpace(s.Find("td").Eq(1).Text())+" on "+strings.Fields(s.Find("td").Eq(3).Text())[0])
		})
		want := []string{
			"sso.delete by " + owner.Email + " on Example",
			"sso.require_off by " + owner.Email + " on Example",
			"saml.metadata_refresh by Campus IdP on Campus",
			"saml.update by " + owner.Email + " on Campus",
			"sso.update by " + owner.Email + " on Example",
		}
		if !slices.Equal(rows, want) {
			t.Fatalf("Settings → Organization's audit trail:\n%s\nwant\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
		}
		// Still in the workspace's own log.
		entries, _, err := a.store.ListAuditEntries(ctx, owner.WorkspaceID, models.AuditFilter{})
		if err != nil {
			t.Fatal(err)
		}
		var logged []string
		for _, e := range entries {
			logged = append(logged, e.Action)
		}
		for _, w := range []string{"sso.update", "saml.update", "saml.metadata_refresh", "sso.require_off", "sso.delete"} {
			if !slices.Contains(logged, w) {
				t.Errorf("the workspace's log lacks %s: %v", w, logged)
			}
		}
	})
}
