// Package sshtunnel reaches a warehouse through an SSH bastion, for the source kinds whose
// spec carries its fields (Fields). Sluice holds an Ed25519 key pair per source (NewKey;
// the public half is what an admin installs on the bastion), pins the bastion's host key
// on first connect, and refuses a different one until an admin accepts it.
//
// A Tunnel is one SSH client to the bastion, made on first use and made again when it
// dies, with keepalives; the warehouse driver dials through DialContext, each connection
// a direct-tcpip channel from the bastion to the warehouse. Every failure is a
// *connectors.Error naming the hop that failed: the bastion cannot be reached, it refused
// Sluice's key, its host key changed, or it could not reach the warehouse.
package sshtunnel

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"

	"sluice/connectors"
)

// The tunnel's config fields. The key pair and the host keys are Generated: Sluice
// writes them, a form never sets them.
const (
	FieldEnabled    = "ssh_tunnel"
	FieldHost       = "ssh_host"
	FieldPort       = "ssh_port"
	FieldUser       = "ssh_user"
	FieldPrivateKey = "ssh_private_key"
	FieldPublicKey  = "ssh_public_key"
	// FieldHostKey is the pinned host key of the bastion, in authorized_keys form.
	FieldHostKey = "ssh_host_key"
	// FieldOfferedHostKey is a different host key the bastion presented since, kept
	// for an admin to compare and accept.
	FieldOfferedHostKey = "ssh_host_key_offered"
)

// Section is the FieldSpec.Section of the tunnel's fields: forms show them together
// under "Connect through an SSH tunnel".
const Section = "ssh"

// DefaultPort is SSH's.
const DefaultPort = 22

// KeepaliveInterval is how often an idle tunnel asks the bastion whether it is alive:
// under the idle timeouts of common firewalls and load balancers (often 60 s or more),
// and a dead bastion is noticed before a run waits on it for long.
const KeepaliveInterval = 30 * time.Second

// DefaultConnectTimeout bounds reaching the bastion and the SSH handshake.
const DefaultConnectTimeout = 10 * time.Second

// Fields are the tunnel's config fields, for a connector's spec.
func Fields() []connectors.FieldSpec {
	return []connectors.FieldSpec{
		{Name: FieldEnabled, Label: "Use an SSH tunnel", Type: connectors.FieldBool, Default: "false", Section: Section,
			Help: "Reach the warehouse through a bastion host that Sluice logs in to with its own key."},
		{Name: FieldHost, Label: "Bastion host", Type: connectors.FieldString, Section: Section,
			Help: "The SSH server Sluice connects to, e.g. bastion.example.com. The warehouse is reached from the bastion, by its address as the bastion sees it."},
		{Name: FieldPort, Label: "Bastion port", Type: connectors.FieldInt, Default: strconv.Itoa(DefaultPort), Section: Section},
		{Name: FieldUser, Label: "Bastion user", Type: connectors.FieldString, Section: Section,
			Help: "The account on the bastion whose ~/.ssh/authorized_keys holds Sluice's public key, e.g. sluice."},
		{Name: FieldPrivateKey, Label: "Private key", Type: connectors.FieldText, Secret: true, Generated: true, Section: Section,
			Help: "The Ed25519 private key Sluice generated for this source; never shown."},
		{Name: FieldPublicKey, Label: "Public key", Type: connectors.FieldText, Generated: true, Section: Section,
			Help: "Its public key, in authorized_keys form, to install on the bastion."},
		{Name: FieldHostKey, Label: "Bastion host key", Type: connectors.FieldString, Generated: true, Section: Section,
			Help: "The bastion's host key, pinned on first connect; a different one is refused."},
		{Name: FieldOfferedHostKey, Label: "New bastion host key", Type: connectors.FieldString, Generated: true, Section: Section,
			Help: "A different host key the bastion presented since, until an admin accepts it."},
	}
}

// Enabled reports whether cfg asks for a tunnel.
func Enabled(cfg connectors.Config) bool { return cfg[FieldEnabled] == "true" }

// Supports reports whether a kind's fields include the tunnel's.
func Supports(fields []connectors.FieldSpec) bool {
	for _, f := range fields {
		if f.Name == FieldEnabled {
			return true
		}
	}
	return false
}

// NewKey makes an Ed25519 key pair: the private key in OpenSSH's PEM form, the public
// key as one authorized_keys line ending in comment.
func NewKey(comment string) (private, public string, err error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", "", fmt.Errorf("sshtunnel: generate key: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, comment)
	if err != nil {
		return "", "", fmt.Errorf("sshtunnel: encode key: %w", err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return "", "", fmt.Errorf("sshtunnel: encode public key: %w", err)
	}
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub)))
	if comment != "" {
		line += " " + comment
	}
	return string(pem.EncodeToMemory(block)), line, nil
}

// Fingerprint is the SHA256:… fingerprint of an authorized_keys line, as ssh-keygen -l
// shows it; "" when the line is not a key.
func Fingerprint(authorizedKey string) string {
	if strings.TrimSpace(authorizedKey) == "" {
		return ""
	}
	key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(authorizedKey))
	if err != nil {
		return ""
	}
	return ssh.FingerprintSHA256(key)
}

// keyLine is a host key as one authorized_keys line, without comment.
func keyLine(key ssh.PublicKey) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key)))
}

// Config is a tunnel's settings, read from a source's config.
type Config struct {
	Host       string
	Port       int
	User       string
	PrivateKey string
	// HostKey is the pinned host key; empty until the first connection pins one.
	HostKey string
	// ConnectTimeout bounds the TCP connection and handshake (DefaultConnectTimeout if 0).
	ConnectTimeout time.Duration
	// Service names the fixed service a connector reaches through the bastion (e.g.
	// Google's API), empty when it reaches the warehouse at the source's host field:
	// an unreachable service is fixed on the bastion, not in a host field.
	Service string
}

// Addr is the bastion's host:port.
func (c Config) Addr() string { return net.JoinHostPort(c.Host, strconv.Itoa(c.Port)) }

// CheckSettings checks what a form gives of the tunnel: with the tunnel on, the
// bastion's host, port and user. Missing or invalid settings are configuration errors
// on their field.
func CheckSettings(cfg connectors.Config) error {
	_, _, err := settings(cfg)
	return err
}

func settings(cfg connectors.Config) (c Config, ok bool, err error) {
	if v := cfg[FieldEnabled]; v != "" && v != "true" && v != "false" {
		return Config{}, false, configError(FieldEnabled, "Use an SSH tunnel must be true or false.")
	}
	if !Enabled(cfg) {
		return Config{}, false, nil
	}
	c = Config{Host: strings.TrimSpace(cfg[FieldHost]), User: strings.TrimSpace(cfg[FieldUser])}
	port := strings.TrimSpace(cfg[FieldPort])
	if port == "" {
		port = strconv.Itoa(DefaultPort)
	}
	c.Port, _ = strconv.Atoi(port)
	switch {
	case c.Host == "":
		return c, true, configError(FieldHost, "Bastion host is required to connect through an SSH tunnel.")
	case c.Port < 1 || c.Port > 65535:
		return c, true, configError(FieldPort, "Bastion port must be between 1 and 65535.")
	case c.User == "":
		return c, true, configError(FieldUser, "Bastion user is required to connect through an SSH tunnel.")
	}
	return c, true, nil
}

// FromConfig reads the tunnel's settings from a source's config (defaults applied by
// the spec). ok is false when the config asks for no tunnel. Missing settings are
// configuration errors on their field.
func FromConfig(cfg connectors.Config) (c Config, ok bool, err error) {
	c, ok, err = settings(cfg)
	if err != nil || !ok {
		return c, ok, err
	}
	c.PrivateKey, c.HostKey = cfg[FieldPrivateKey], strings.TrimSpace(cfg[FieldHostKey])
	if c.PrivateKey == "" {
		return c, true, configError(FieldEnabled, "Sluice has no SSH key for this source yet: save the source to generate one, then install its public key on the bastion.")
	}
	if c.HostKey != "" && Fingerprint(c.HostKey) == "" {
		return c, true, configError(FieldHostKey, "The pinned host key of the bastion is not a valid SSH public key.")
	}
	return c, true, nil
}

func configError(field, msg string) *connectors.Error {
	return &connectors.Error{Category: connectors.CategoryConfiguration, Field: field, Message: msg}
}

// Tunnel is an SSH client to one bastion, connected on first use.
//
// A nil *Tunnel is the direct way, for a source whose config asks for no tunnel (Open
// answers nil then): HTTPClient and Transport answer what they are given, Reach and
// PresentedHostKey "", Close nothing. A connector keeps one field and asks no question.
type Tunnel struct {
	cfg    Config
	signer ssh.Signer

	mu         sync.Mutex
	client     *ssh.Client
	stop       chan struct{}     // closes the client's keepalive loop
	presented  string            // the host key the bastion presented last
	transports []*http.Transport // made by Transport, their idle connections closed with the tunnel
	closed     bool
}

// Open opens the tunnel a source's config asks for, without connecting; nil when it
// asks for none. Missing settings and an unreadable key are configuration errors on
// their field.
func Open(cfg connectors.Config) (*Tunnel, error) {
	c, ok, err := FromConfig(cfg)
	if err != nil || !ok {
		return nil, err
	}
	return c.Open()
}

// Open prepares a tunnel without connecting.
func (c Config) Open() (*Tunnel, error) {
	signer, err := ssh.ParsePrivateKey([]byte(c.PrivateKey))
	if err != nil {
		return nil, &connectors.Error{Category: connectors.CategoryConfiguration, Field: FieldEnabled,
			Message: "The stored SSH key of this source cannot be read. Generate a new key and install it on the bastion.", Detail: err.Error(), Err: err}
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	return &Tunnel{cfg: c, signer: signer}, nil
}

// Bastion names the bastion for messages: "user@host:port".
func (t *Tunnel) Bastion() string { return t.cfg.User + "@" + t.cfg.Addr() }

// Reach logs in to the bastion, for a connection check to try the first hop before the
// warehouse, so that a failure names the hop, and answers how the check's message names
// the way it took: " through the SSH bastion user@host:port (host key SHA256:…)", or ""
// without a tunnel.
func (t *Tunnel) Reach(ctx context.Context) (string, error) {
	if t == nil {
		return "", nil
	}
	if _, err := t.Connect(ctx); err != nil {
		return "", err
	}
	return fmt.Sprintf(" through the SSH bastion %s (host key %s)", t.Bastion(), Fingerprint(t.PresentedHostKey())), nil
}

// PresentedHostKey is the host key the bastion presented at the last handshake, in
// authorized_keys form; "" before any, or without a tunnel. A source answers it as its
// connectors.HostKeyReporter.
func (t *Tunnel) PresentedHostKey() string {
	if t == nil {
		return ""
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.presented
}

// HostKeyChangedError is the handshake's failure when the bastion presents a host key
// other than the pinned one.
type HostKeyChangedError struct{ Pinned, Presented string }

func (e *HostKeyChangedError) Error() string {
	return fmt.Sprintf("sshtunnel: host key changed from %s to %s", Fingerprint(e.Pinned), Fingerprint(e.Presented))
}

// Connect makes sure the SSH client is up: the live one, or a new connection.
func (t *Tunnel) Connect(ctx context.Context) (*ssh.Client, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, errors.New("sshtunnel: tunnel closed")
	}
	if t.client != nil {
		return t.client, nil
	}
	client, err := t.dial(ctx)
	if err != nil {
		return nil, err
	}
	t.client = client
	t.stop = make(chan struct{})
	go t.keepalive(client, t.stop)
	return client, nil
}

// dial reaches the bastion and logs in. Called with t.mu held.
func (t *Tunnel) dial(ctx context.Context) (*ssh.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, t.cfg.ConnectTimeout)
	defer cancel()
	addr := t.cfg.Addr()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, t.unreachable(err)
	}
	// The handshake is bounded by the context too: a bastion that accepts TCP and then
	// says nothing must not hang the check.
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stopWatch := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stopWatch()
	config := &ssh.ClientConfig{
		User:            t.cfg.User,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(t.signer)},
		HostKeyCallback: t.checkHostKey,
		Timeout:         t.cfg.ConnectTimeout,
	}
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, config)
	if err != nil {
		_ = conn.Close()
		return nil, t.handshakeError(ctx, err)
	}
	_ = conn.SetDeadline(time.Time{})
	return ssh.NewClient(c, chans, reqs), nil
}

// checkHostKey pins on first connect (the caller stores what PresentedHostKey says)
// and refuses any key but the pinned one after.
func (t *Tunnel) checkHostKey(_ string, _ net.Addr, key ssh.PublicKey) error {
	t.presented = keyLine(key)
	if t.cfg.HostKey == "" {
		return nil
	}
	pinned, _, _, _, err := ssh.ParseAuthorizedKey([]byte(t.cfg.HostKey))
	if err != nil {
		return err
	}
	if ssh.FingerprintSHA256(pinned) != ssh.FingerprintSHA256(key) {
		return &HostKeyChangedError{Pinned: t.cfg.HostKey, Presented: t.presented}
	}
	return nil
}

// keepalive asks the bastion for an answer every KeepaliveInterval; when none comes,
// the client is closed and dropped, so the next dial makes a new one.
func (t *Tunnel) keepalive(client *ssh.Client, stop chan struct{}) {
	tick := time.NewTicker(KeepaliveInterval)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
			answered := make(chan error, 1)
			go func() {
				_, _, err := client.SendRequest("keepalive@openssh.com", true, nil)
				answered <- err
			}()
			var err error
			select {
			case err = <-answered:
			case <-time.After(KeepaliveInterval):
				err = errors.New("no answer")
			case <-stop:
				return
			}
			if err != nil {
				t.drop(client)
				return
			}
		}
	}
}

// drop forgets a dead client, if it is still the current one.
func (t *Tunnel) drop(client *ssh.Client) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.client == client {
		close(t.stop)
		t.client, t.stop = nil, nil
	}
	_ = client.Close()
}

// DialContext opens a connection to addr (the warehouse, as the bastion sees it)
// through the bastion: the dialer warehouse drivers are given. A client that died since
// its last use is replaced once.
func (t *Tunnel) DialContext(ctx context.Context, _, addr string) (net.Conn, error) {
	for attempt := 0; ; attempt++ {
		client, err := t.Connect(ctx)
		if err != nil {
			return nil, err
		}
		conn, err := client.DialContext(ctx, "tcp", addr)
		if err == nil {
			return conn, nil
		}
		var refused *ssh.OpenChannelError
		if errors.As(err, &refused) || ctx.Err() != nil || attempt > 0 {
			return nil, t.forwardError(addr, err)
		}
		t.drop(client) // the connection to the bastion is gone: make a new one
	}
}

// HTTPClient is a client like base whose connections go through the tunnel, for
// warehouses reached over HTTPS: its own transport (Transport of base's, or of
// http.DefaultTransport's settings when base has no *http.Transport). base itself
// without a tunnel.
func (t *Tunnel) HTTPClient(base *http.Client) *http.Client {
	if t == nil {
		return base
	}
	bt, ok := base.Transport.(*http.Transport)
	if !ok {
		bt = http.DefaultTransport.(*http.Transport)
	}
	out := *base
	out.Transport = t.Transport(bt)
	return &out
}

// Transport is a copy of base whose connections go through the tunnel: its own (idle
// connections through one source's tunnel are not another's), with no proxy (the
// bastion is the way to the warehouse). TLS is still end to end: the bastion forwards
// bytes it cannot read, and the certificate is checked against the host asked for.
// base itself without a tunnel.
func (t *Tunnel) Transport(base *http.Transport) *http.Transport {
	if t == nil {
		return base
	}
	tr := base.Clone()
	tr.Proxy = nil
	tr.DialContext = t.DialContext
	t.mu.Lock()
	t.transports = append(t.transports, tr)
	t.mu.Unlock()
	return tr
}

// Close closes the idle connections of the transports made through the tunnel, then the
// SSH client; connections through it end with it. Nothing without a tunnel.
func (t *Tunnel) Close() error {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, tr := range t.transports {
		tr.CloseIdleConnections()
	}
	t.closed = true
	if t.client == nil {
		return nil
	}
	close(t.stop)
	err := t.client.Close()
	t.client, t.stop = nil, nil
	return err
}

// unreachable words a failure to open TCP to the bastion.
func (t *Tunnel) unreachable(err error) *connectors.Error {
	e := &connectors.Error{Category: connectors.CategoryConnection, Field: FieldHost, Retryable: true, Detail: err.Error(), Err: err}
	addr := t.cfg.Addr()
	var dnsErr *net.DNSError
	var netErr net.Error
	switch {
	case errors.As(err, &dnsErr):
		e.Retryable = !dnsErr.IsNotFound
		e.Message = fmt.Sprintf("Cannot reach the SSH bastion %s: the host name %q does not resolve. Check the bastion host.", addr, t.cfg.Host)
	case errors.Is(err, syscall.ECONNREFUSED):
		e.Message = fmt.Sprintf("Cannot reach the SSH bastion %s: the connection was refused. Check the bastion host and port, and that its SSH server is running.", addr)
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		e.Category = connectors.CategoryTimeout
		e.Message = fmt.Sprintf("Cannot reach the SSH bastion %s: connecting timed out. Check the bastion host and port, and that its firewall lets Sluice in.", addr)
	default:
		e.Message = fmt.Sprintf("Cannot reach the SSH bastion %s. Check the bastion host and port.", addr)
	}
	return e
}

// handshakeError words a failed SSH handshake: a changed host key, a refused key, or
// anything else the bastion said.
func (t *Tunnel) handshakeError(ctx context.Context, err error) *connectors.Error {
	e := &connectors.Error{Category: connectors.CategoryConnection, Field: FieldHost, Detail: err.Error(), Err: err}
	addr := t.cfg.Addr()
	var changed *HostKeyChangedError
	var netErr net.Error
	switch {
	case errors.As(err, &changed):
		// Credentials: the host key is the bastion's, and its fix (comparing and
		// accepting the new key) is on the source's page, like a refused key's.
		e.Category = connectors.CategoryCredentials
		e.Message = fmt.Sprintf("The host key of the SSH bastion %s changed: Sluice pinned %s and the bastion now presents %s. If the bastion was rebuilt or its keys rotated, accept the new key; otherwise someone may be intercepting the connection.",
			addr, Fingerprint(changed.Pinned), Fingerprint(changed.Presented))
	case strings.Contains(err.Error(), "unable to authenticate"):
		e.Category, e.Field = connectors.CategoryCredentials, FieldUser
		e.Message = fmt.Sprintf("The SSH bastion %s refused Sluice's key for user %s. Add the public key shown under \"Connect through an SSH tunnel\" to ~%s/.ssh/authorized_keys on the bastion.",
			addr, t.cfg.User, t.cfg.User)
	case ctx.Err() != nil, errors.As(err, &netErr) && netErr.Timeout():
		e.Category, e.Retryable = connectors.CategoryTimeout, true
		e.Message = fmt.Sprintf("The SSH bastion %s accepted the connection but did not complete the SSH handshake in time. Check that the port is its SSH server's.", addr)
	default:
		e.Retryable = true
		e.Message = fmt.Sprintf("The SSH handshake with the bastion %s failed. Check that the port is its SSH server's.", addr)
	}
	return e
}

// forwardError words a refused or failed direct-tcpip channel: the bastion was reached
// and logged in to, the warehouse was not reached from it.
func (t *Tunnel) forwardError(addr string, err error) *connectors.Error {
	e := &connectors.Error{Category: connectors.CategoryConnection, Field: "host", Retryable: true, Detail: err.Error(), Err: err}
	bastion, target, fix := t.cfg.Addr(), "the warehouse", "Check the warehouse host and port as the bastion sees them, and that the warehouse accepts connections from the bastion."
	if t.cfg.Service != "" {
		e.Field = FieldHost
		target, fix = t.cfg.Service, fmt.Sprintf("Let the bastion make outbound connections to %s.", addr)
	}
	var refused *ssh.OpenChannelError
	switch {
	case errors.As(err, &refused) && refused.Reason == ssh.Prohibited:
		// Connection, not configuration: the fix is the bastion's sshd_config, reached
		// from the source's page, not a model's.
		e.Field, e.Retryable = FieldHost, false
		e.Message = fmt.Sprintf("The SSH bastion %s does not let user %s open connections to %s (port forwarding is off: AllowTcpForwarding or PermitOpen in its sshd_config).", bastion, t.cfg.User, addr)
	case errors.As(err, &refused):
		e.Message = fmt.Sprintf("The SSH bastion %s cannot reach %s at %s: %s. %s", bastion, target, addr, strings.TrimSuffix(refused.Message, "."), fix)
	default:
		e.Message = fmt.Sprintf("The connection through the SSH bastion %s to %s at %s failed.", bastion, target, addr)
	}
	return e
}
