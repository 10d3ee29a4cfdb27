package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"sluice/models"
	"sluice/views/auth"
	"sluice/views/components"
)

// formErrors turns a store's field error into the errors shown beside the fields.
func formErrors(err error) (components.FormErrors, bool) {
	var fe *models.FieldError
	if errors.As(err, &fe) {
		return components.FormErrors{fe.Field: fe.Message}, true
	}
	return nil, false
}

type setupForm struct {
	Workspace string `form:"workspace"`
	Name      string `form:"name"`
	Email     string `form:"email"`
	Password  string `form:"password"`
}

// SetupForm shows the first-admin form while the installation has no user; then 404.
func (s *Server) SetupForm(c echo.Context) error {
	if err := s.requireSetup(c); err != nil {
		return err
	}
	return s.render(c, http.StatusOK, auth.SetupPage(auth.SetupProps{}), nil)
}

// Setup creates the first admin and signs them in.
func (s *Server) Setup(c echo.Context) error {
	if err := s.requireSetup(c); err != nil {
		return err
	}
	var f setupForm
	if err := c.Bind(&f); err != nil {
		return echo.ErrBadRequest
	}
	u, err := s.core.SetupFirstAdmin(c.Request().Context(), f.Workspace, models.NewUser{Email: f.Email, Name: f.Name, Password: f.Password})
	if errs, ok := formErrors(err); ok {
		return s.render(c, http.StatusUnprocessableEntity, auth.SetupPage(auth.SetupProps{Workspace: f.Workspace, Name: f.Name, Email: f.Email, Errors: errs}), nil)
	}
	if errors.Is(err, models.ErrSetupDone) {
		return echo.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	if err := s.signIn(c, u); err != nil {
		return err
	}
	if err := flash(c, "success", "Your workspace is ready. Start by connecting a source."); err != nil {
		return err
	}
	return redirect(c, c.Echo().Reverse("activations.index"))
}

func (s *Server) requireSetup(c echo.Context) error {
	need, err := s.store.NeedsSetup(c.Request().Context())
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	if !need {
		return echo.ErrNotFound
	}
	return nil
}

type loginForm struct {
	Email    string `form:"email"`
	Password string `form:"password"`
	Next     string `form:"next"`
}

// LoginForm is the sign-in page; signed-in visitors go straight on.
func (s *Server) LoginForm(c echo.Context) error {
	next := safeNext(c.QueryParam("next"))
	if currentUser(c) != nil {
		return redirect(c, s.afterSignIn(c, next))
	}
	if need, err := s.store.NeedsSetup(c.Request().Context()); err != nil {
		return fmt.Errorf("login: %w", err)
	} else if need {
		return redirect(c, c.Echo().Reverse("auth.setup"))
	}
	props, err := s.loginProps(c, "", c.QueryParam("password") == "1")
	if err != nil {
		return err
	}
	props.Next = next
	return s.render(c, http.StatusOK, auth.LoginPage(props), nil)
}

type loginEmailForm struct {
	Email string `form:"email"`
	Next  string `form:"next"`
}

// LoginEmail is the e-mail step's answer: the sign-in choices of the person's
// organization (the password form alone for an e-mail without an account, as for an
// organization without single sign-on).
func (s *Server) LoginEmail(c echo.Context) error {
	var f loginEmailForm
	if err := c.Bind(&f); err != nil {
		return echo.ErrBadRequest
	}
	f.Next = safeNext(f.Next)
	if err := s.store.TakeEmailStepTry(c.Request().Context(), c.RealIP()); err != nil {
		wait, ok := throttleWait(err)
		if !ok {
			return fmt.Errorf("sign-in e-mail step: %w", err)
		}
		props, err := s.loginProps(c, "", false)
		if err != nil {
			return err
		}
		props.Next, props.Email = f.Next, strings.TrimSpace(f.Email)
		setRetryAfter(c, wait)
		props.Error = "Too many e-mail addresses were looked up from your address. Wait " + waitWords(wait) + ", then try again."
		return s.render(c, http.StatusTooManyRequests, auth.LoginPage(props), nil)
	}
	props, err := s.loginProps(c, f.Email, false)
	if err != nil {
		return err
	}
	props.Next = f.Next
	if strings.TrimSpace(f.Email) == "" {
		props.Errors = components.FormErrors{"email": "Enter the e-mail address you sign in with."}
		return s.render(c, http.StatusUnprocessableEntity, auth.LoginPage(props), nil)
	}
	return s.render(c, http.StatusOK, auth.LoginPage(props), nil)
}

// Login checks the credentials, starts a new session and returns to where the visitor
// was going.
func (s *Server) Login(c echo.Context) error {
	var f loginForm
	if err := c.Bind(&f); err != nil {
		return echo.ErrBadRequest
	}
	f.Next = safeNext(f.Next)
	u, err := s.store.Authenticate(c.Request().Context(), f.Email, f.Password, c.RealIP())
	props, perr := s.loginProps(c, f.Email, c.FormValue("password_mode") == "1")
	if perr != nil {
		return perr
	}
	props.Next = f.Next
	var ssoOnly *models.SSORequiredError
	switch {
	case errors.As(err, &ssoOnly):
		props.Error = ssoOnly.Error()
		return s.render(c, http.StatusUnprocessableEntity, auth.LoginPage(props), nil)
	case errors.Is(err, models.ErrThrottled):
		wait, _ := throttleWait(err)
		setRetryAfter(c, wait)
		props.Error = "Too many failed sign-ins from your address. Wait " + waitWords(wait) + ", then try again."
		return s.render(c, http.StatusTooManyRequests, auth.LoginPage(props), nil)
	case errors.Is(err, models.ErrBadCredentials):
		props.Error = "Wrong e-mail or password."
		return s.render(c, http.StatusUnprocessableEntity, auth.LoginPage(props), nil)
	case err != nil:
		return fmt.Errorf("login: %w", err)
	}
	if err := s.signIn(c, u); err != nil {
		return err
	}
	return redirect(c, s.afterSignIn(c, f.Next))
}

func (s *Server) afterSignIn(c echo.Context, next string) string {
	if next != "" {
		return next
	}
	return c.Echo().Reverse("activations.index")
}

// signIn starts a fresh session: a new server-side session (the browser's previous one
// ends), new values and a new CSRF token, so nothing from before sign-in (e.g. a planted
// token) carries over.
func (s *Server) signIn(c echo.Context, u *models.User) error {
	sess := session(c)
	previous, _ := sess.Values[sessID].(string)
	token, err := s.core.SignIn(c.Request().Context(), u, c.Request().UserAgent(), c.RealIP(), previous)
	if err != nil {
		return fmt.Errorf("sign in: %w", err)
	}
	sess.Values = map[any]any{sessID: token, sessCSRF: models.RandomToken()}
	return saveSession(c)
}

// Logout ends the session on the server, so a copy of the cookie is worth nothing.
func (s *Server) Logout(c echo.Context) error {
	if currentUser(c) != nil {
		token, _ := session(c).Values[sessID].(string)
		if err := s.core.SignOut(c.Request().Context(), actor(c), token); err != nil {
			return fmt.Errorf("logout: %w", err)
		}
	}
	session(c).Values = map[any]any{sessCSRF: models.RandomToken()}
	if err := flash(c, "info", "You are signed out."); err != nil {
		return err
	}
	return redirect(c, c.Echo().Reverse("auth.login"))
}
