package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"sluice/connectors"
)

// ConnectorAPI lists the kinds of sources and platforms this installation offers, with
// the fields their forms and the activation wizard are built from.
type ConnectorAPI struct{ *Server }

// apiFieldJSON is API.md's connector config field.
type apiFieldJSON struct {
	Name     string   `json:"name"`
	Label    string   `json:"label"`
	Type     string   `json:"type"`
	Required bool     `json:"required"`
	Secret   bool     `json:"secret"`
	Default  string   `json:"default,omitempty"`
	Options  []string `json:"options,omitempty"`
	Help     string   `json:"help,omitempty"`
}

// apiActionFieldJSON is a field an action knows.
type apiActionFieldJSON struct {
	Name       string `json:"name"`
	Label      string `json:"label"`
	Type       string `json:"type"`
	Required   bool   `json:"required"`
	Identifier bool   `json:"identifier"`
}

type apiActionJSON struct {
	Name     string               `json:"name"`
	Label    string               `json:"label"`
	Removals bool                 `json:"removals"`
	Fields   []apiActionFieldJSON `json:"fields"`
	// Settings are chosen on each activation (the list or audience at the platform).
	Settings []apiFieldJSON `json:"settings"`
}

type apiSourceSpecJSON struct {
	Kind   string         `json:"kind"`
	Label  string         `json:"label"`
	Config []apiFieldJSON `json:"config"`
}

type apiDestinationSpecJSON struct {
	Kind    string          `json:"kind"`
	Label   string          `json:"label"`
	Auth    string          `json:"auth"`
	Config  []apiFieldJSON  `json:"config"`
	Actions []apiActionJSON `json:"actions"`
}

type apiConnectorsJSON struct {
	Sources      []apiSourceSpecJSON      `json:"sources"`
	Destinations []apiDestinationSpecJSON `json:"destinations"`
}

// Index is GET /api/v1/connectors.
func (h *ConnectorAPI) Index(c echo.Context) error {
	reg := h.core.Registry()
	out := apiConnectorsJSON{Sources: []apiSourceSpecJSON{}, Destinations: []apiDestinationSpecJSON{}}
	for _, s := range reg.SourceSpecs() {
		out.Sources = append(out.Sources, apiSourceSpecJSON{Kind: s.Kind, Label: s.Label, Config: apiFields(s.Fields)})
	}
	for _, d := range reg.DestinationSpecs() {
		dj := apiDestinationSpecJSON{Kind: d.Kind, Label: d.Label, Auth: string(d.Auth), Config: apiFields(d.Config), Actions: []apiActionJSON{}}
		for _, a := range d.Actions {
			aj := apiActionJSON{Name: a.Name, Label: a.Label, Removals: a.Removals, Fields: []apiActionFieldJSON{}, Settings: apiFields(a.Settings)}
			for _, f := range a.Fields {
				aj.Fields = append(aj.Fields, apiActionFieldJSON{Name: f.Name, Label: f.Label, Type: string(f.Kind), Required: f.Required, Identifier: f.Identifier})
			}
			dj.Actions = append(dj.Actions, aj)
		}
		out.Destinations = append(out.Destinations, dj)
	}
	return c.JSON(http.StatusOK, out)
}

func apiFields(fields []connectors.FieldSpec) []apiFieldJSON {
	out := make([]apiFieldJSON, len(fields))
	for i, f := range fields {
		out[i] = apiFieldJSON{Name: f.Name, Label: f.Label, Type: string(f.Type), Required: f.Required, Secret: f.Secret,
			Default: f.Default, Options: f.Options, Help: f.Help}
	}
	return out
}
