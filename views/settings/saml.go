package settings

import (
	"sluice/models"
	"sluice/views/components"
)

// samlMetadataRead says when the provider's metadata was read, and whether Sluice reads
// it again by itself (from its URL, once a day) or an owner pastes it again.
func samlMetadataRead(c *models.SAMLConfig) string {
	if c.MetadataReadAt == nil {
		return "Metadata read: unknown."
	}
	at := "Metadata read at " + components.FormatTime(*c.MetadataReadAt)
	if c.MetadataURL == "" {
		return at + ", pasted: paste it again when the provider's signing certificate changes."
	}
	return at + "; read again from its URL once a day, so a new signing certificate is picked up."
}
