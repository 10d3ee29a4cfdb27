// Package notifytest gives tests the far ends of an alert: an in-process SMTP server
// that holds a real SMTP conversation (STARTTLS and AUTH PLAIN when asked) and records
// what it received, and a Slack incoming-webhook endpoint that records the payloads.
package notifytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Mail is one message the SMTP server accepted.
type Mail struct {
	From string
	To   []string
	Data []byte
	// TLS and User say how the session was held: after STARTTLS, authenticated as whom.
	TLS  bool
	User string
}

// SMTPOptions shape the server.
type SMTPOptions struct {
	// TLS offers STARTTLS with a self-signed certificate (trust it with ClientTLS).
	TLS bool
	// User and Password, when set, make AUTH PLAIN required.
	User, Password string
}

// SMTPServer is an in-process SMTP server.
type SMTPServer struct {
	addr string
	cert *x509.Certificate

	mu    sync.Mutex
	mails []Mail
	fail  *smtp.SMTPError
	tries int
}

// StartSMTP starts a server on a loopback port, stopped when the test ends.
func StartSMTP(t testing.TB, o SMTPOptions) *SMTPServer {
	t.Helper()
	s := &SMTPServer{}
	srv := smtp.NewServer(&backend{s: s, o: o})
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.AllowInsecureAuth = !o.TLS
	if o.TLS {
		cert, leaf := selfSigned(t)
		s.cert = leaf
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = l.Addr().String()
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return s
}

// URL is the server's smtp:// URL, with user info when it requires AUTH.
func (s *SMTPServer) URL(user, password string) string {
	u := url.URL{Scheme: "smtp", Host: s.addr}
	if user != "" {
		u.User = url.UserPassword(user, password)
	}
	return u.String()
}

// ClientTLS trusts the server's certificate.
func (s *SMTPServer) ClientTLS() *tls.Config {
	pool := x509.NewCertPool()
	if s.cert != nil {
		pool.AddCert(s.cert)
	}
	return &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}

// Mails returns what the server accepted so far.
func (s *SMTPServer) Mails() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.mails...)
}

// Tries counts the messages the server was asked to take, refused ones included.
func (s *SMTPServer) Tries() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tries
}

// FailWith makes the server refuse every message's data with code (451: try later;
// 554: refused); 0 makes it accept again.
func (s *SMTPServer) FailWith(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if code == 0 {
		s.fail = nil
		return
	}
	s.fail = &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{code / 100, 0, 0}, Message: "refused by the test server"}
}

type backend struct {
	s *SMTPServer
	o SMTPOptions
}

func (b *backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{b: b, c: c}, nil
}

type session struct {
	b    *backend
	c    *smtp.Conn
	user string
	mail Mail
}

func (s *session) AuthMechanisms() []string {
	if s.b.o.User == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != s.b.o.User || pass != s.b.o.Password {
			return errors.New("invalid credentials")
		}
		s.user = user
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.b.o.User != "" && s.user == "" {
		return smtp.ErrAuthRequired
	}
	s.mail = Mail{From: from}
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.mail.To = append(s.mail.To, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := s.c.TLSConnectionState()
	s.mail.Data, s.mail.TLS, s.mail.User = data, isTLS, s.user
	s.b.s.mu.Lock()
	defer s.b.s.mu.Unlock()
	s.b.s.tries++
	if s.b.s.fail != nil {
		return s.b.s.fail
	}
	s.b.s.mails = append(s.b.s.mails, s.mail)
	return nil
}

func (s *session) Reset()        { s.mail = Mail{} }
func (s *session) Logout() error { return nil }

func selfSigned(t testing.TB) (tls.Certificate, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, leaf
}

// Slack is a local incoming-webhook endpoint.
type Slack struct {
	*httptest.Server

	mu       sync.Mutex
	payloads []json.RawMessage
	status   int
}

// StartSlack starts the endpoint, closed when the test ends. Its webhook URL is
// URL + "/services/T000/B000/secret".
func StartSlack(t testing.TB) *Slack {
	t.Helper()
	s := &Slack{status: http.StatusOK}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		status := s.status
		if status == http.StatusOK && r.Method == http.MethodPost && r.Header.Get("Content-Type") == "application/json" && json.Valid(body) {
			s.payloads = append(s.payloads, body)
		} else if status == http.StatusOK {
			status = http.StatusBadRequest
		}
		s.mu.Unlock()
		w.WriteHeader(status)
		if status == http.StatusOK {
			_, _ = io.WriteString(w, "ok")
		} else {
			_, _ = io.WriteString(w, "invalid_payload")
		}
	}))
	t.Cleanup(s.Close)
	return s
}

// WebhookURL is the endpoint's secret-looking webhook URL.
func (s *Slack) WebhookURL() string { return s.URL + "/services/T000/B000/secret" }

// Payloads returns the bodies received so far.
func (s *Slack) Payloads() []json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]json.RawMessage(nil), s.payloads...)
}

// AnswerWith makes the endpoint answer status (200 to accept again).
func (s *Slack) AnswerWith(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = status
}
