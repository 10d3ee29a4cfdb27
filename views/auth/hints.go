package auth

import (
	"fmt"

	"sluice/models"
)

func passwordHint() string {
	return fmt.Sprintf("At least %d characters. A passphrase of a few words works well.", models.MinPasswordLength)
}
