package auth

import (
	"context"
	"net/url"

	"sluice/models"
	"sluice/views/components"
)

// ssoStartURL starts a sign-in with one provider of an organization.
func ssoStartURL(ctx context.Context, p models.SSOProvider, next string) string {
	q := url.Values{"org": {p.OrganizationID}, "provider": {p.Kind}}
	if next != "" {
		q.Set("next", next)
	}
	return components.URL(ctx, "sso.start") + "?" + q.Encode()
}

// loginURL is the sign-in page's first step again.
func loginURL(ctx context.Context, next string) string {
	u := components.URL(ctx, "auth.login")
	if next != "" {
		u += "?" + url.Values{"next": {next}}.Encode()
	}
	return u
}
