package sources

import "sluice/connectors"

func valueOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func inputType(f connectors.FieldSpec) string {
	if f.Type == connectors.FieldInt {
		return "number"
	}
	return "text"
}

// secretPlaceholder tells whether a secret is already stored, without showing it.
func secretPlaceholder(p FormProps, f connectors.FieldSpec) string {
	if p.Saved != nil && p.Saved.SecretsSealed != "" {
		return "•••••••• stored — leave empty to keep it"
	}
	return ""
}
