package models

import (
	"strings"

	"github.com/nyaruka/phonenumbers"

	"sluice/connectors"
)

// ColumnFitsField says whether a model column of type t can feed a destination field.
func ColumnFitsField(t connectors.ColumnType, k connectors.FieldKind) bool {
	switch k {
	case connectors.KindNumber:
		return t == connectors.TypeInteger || t == connectors.TypeNumber || t == connectors.TypeString
	case connectors.KindBoolean:
		return t == connectors.TypeBoolean || t == connectors.TypeString || t == connectors.TypeInteger
	case connectors.KindDatetime:
		return t == connectors.TypeDate || t == connectors.TypeTimestamp || t == connectors.TypeString
	}
	return true // text-like fields take any value as text
}

// Check keeps run options in range; a problem is a *FieldError on "settings.<field>".
func (st ActivationSettings) Check() error {
	if st.SourceIssueThreshold < 0 || st.SourceIssueThreshold > 100 {
		return &FieldError{Field: "settings.source_issue_threshold", Message: "Give a percentage from 0 to 100 (0 never pauses)."}
	}
	if st.DefaultPhoneRegion != "" && len(phonenumbers.GetSupportedRegions()) > 0 {
		if _, ok := phonenumbers.GetSupportedRegions()[strings.ToUpper(st.DefaultPhoneRegion)]; !ok {
			return &FieldError{Field: "settings.default_phone_region", Message: "Give a two-letter country code, like FR or US."}
		}
	}
	return nil
}
