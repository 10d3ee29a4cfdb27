package auth

import (
	"context"
	"net/url"

	"sluice/views/components"
)

func ssoStartURL(ctx context.Context, org, next string) string {
	q := url.Values{"org": {org}}
	if next != "" {
		q.Set("next", next)
	}
	return components.URL(ctx, "sso.start") + "?" + q.Encode()
}
