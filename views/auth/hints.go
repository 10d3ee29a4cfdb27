package auth

import (
	"fmt"
	"net/url"

	"sluice/models"
)

func passwordHint() string {
	return fmt.Sprintf("At least %d characters. A passphrase of a few words works well.", models.MinPasswordLength)
}

// invitationNext is where sign-in returns to accept an invitation: its link, escaped for
// the next parameter.
func invitationNext(token string) string {
	return url.QueryEscape("/invitation?token=" + url.QueryEscape(token))
}
