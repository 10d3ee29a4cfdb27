package handlers

import (
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"sluice/models"
	"sluice/views/settings"
)

// TokenHandler serves Settings → API tokens (admins only).
type TokenHandler struct{ *Server }

type tokenForm struct {
	Name string `form:"name"`
	Role string `form:"role"`
}

// Index lists tokens. A token made just now is shown once, then forgotten.
func (h *TokenHandler) Index(c echo.Context) error {
	form := settings.TokenFormProps{Role: models.RoleViewer}
	if created, ok := session(c).Values[sessToken].(string); ok {
		form.Created = created
		delete(session(c).Values, sessToken)
		if err := saveSession(c); err != nil {
			return err
		}
	}
	return h.page(c, http.StatusOK, form)
}

func (h *TokenHandler) page(c echo.Context, status int, form settings.TokenFormProps) error {
	tokens, err := h.store.ListAPITokens(c.Request().Context(), workspaceID(c))
	if err != nil {
		return fmt.Errorf("list tokens: %w", err)
	}
	return h.render(c, status, settings.TokensPage(settings.TokensProps{Tokens: tokens, Form: form}), settings.TokenForm(form))
}

// Create makes a token. The plaintext rides in the encrypted session cookie to the
// next page only, so a reload never shows it twice.
func (h *TokenHandler) Create(c echo.Context) error {
	var f tokenForm
	if err := c.Bind(&f); err != nil {
		return echo.ErrBadRequest
	}
	_, plaintext, err := h.store.CreateAPIToken(c.Request().Context(), actor(c), f.Name, models.Role(f.Role))
	if errs, ok := formErrors(err); ok {
		return h.page(c, http.StatusUnprocessableEntity, settings.TokenFormProps{Name: f.Name, Role: models.Role(f.Role), Errors: errs})
	}
	if err != nil {
		return fmt.Errorf("create token: %w", err)
	}
	session(c).Values[sessToken] = plaintext
	if err := saveSession(c); err != nil {
		return err
	}
	return redirect(c, c.Echo().Reverse("tokens.index"))
}

// Delete revokes a token.
func (h *TokenHandler) Delete(c echo.Context) error {
	if err := h.store.DeleteAPIToken(c.Request().Context(), actor(c), c.Param("id")); err != nil {
		return err
	}
	if !isHTMX(c) {
		return redirect(c, c.Echo().Reverse("tokens.index"))
	}
	return c.HTML(http.StatusOK, "")
}
