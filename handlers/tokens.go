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

// Index lists tokens. It never shows a token's value: Sluice keeps only hashes.
func (h *TokenHandler) Index(c echo.Context) error {
	return h.page(c, http.StatusOK, settings.TokenFormProps{Role: models.RoleViewer})
}

func (h *TokenHandler) page(c echo.Context, status int, form settings.TokenFormProps) error {
	tokens, err := h.store.ListAPITokens(c.Request().Context(), workspaceID(c))
	if err != nil {
		return fmt.Errorf("list tokens: %w", err)
	}
	p := settings.TokensProps{Tokens: tokens, Form: form}
	return h.render(c, status, settings.TokensPage(p), settings.TokensContent(p))
}

// Create makes a token and shows its value in this answer only: it is kept nowhere, not
// in the session nor in a redirect, so no later page (a reload, a copied cookie) can
// show it again. The answer is not cached; a reload of a plain form post makes the
// browser ask before posting again, which would make another token.
func (h *TokenHandler) Create(c echo.Context) error {
	var f tokenForm
	if err := c.Bind(&f); err != nil {
		return echo.ErrBadRequest
	}
	_, plaintext, err := h.core.CreateAPIToken(c.Request().Context(), actor(c), f.Name, models.Role(f.Role))
	if errs, ok := formErrors(err); ok {
		return h.page(c, http.StatusUnprocessableEntity, settings.TokenFormProps{Name: f.Name, Role: models.Role(f.Role), Errors: errs})
	}
	if err != nil {
		return fmt.Errorf("create token: %w", err)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return h.page(c, http.StatusCreated, settings.TokenFormProps{Role: models.RoleViewer, Created: plaintext})
}

// Delete revokes a token.
func (h *TokenHandler) Delete(c echo.Context) error {
	if err := h.core.DeleteAPIToken(c.Request().Context(), actor(c), c.Param("id")); err != nil {
		return err
	}
	if !isHTMX(c) {
		return redirect(c, c.Echo().Reverse("tokens.index"))
	}
	return c.HTML(http.StatusOK, "")
}
