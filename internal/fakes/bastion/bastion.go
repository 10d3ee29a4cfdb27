// Package bastion is a fake SSH bastion for the SSH tunnel's tests: an SSH server (from
// golang.org/x/crypto/ssh) on a loopback port that accepts public-key logins of the keys
// it was told to authorize and forwards direct-tcpip channels to the address they name,
// as OpenSSH's sshd does with AllowTcpForwarding on. It answers keepalive requests, can
// change its host key (a rebuilt bastion, or a man in the middle) and can refuse
// forwarding (AllowTcpForwarding no).
package bastion

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
)

// Server is a running bastion. Its methods are safe for concurrent use.
type Server struct {
	ln net.Listener

	mu         sync.Mutex
	hostKey    ssh.Signer
	authorized map[string]bool // fingerprints of the keys that may log in
	noForward  bool
	conns      map[net.Conn]bool
	forwarded  int
	logins     int
	wg         sync.WaitGroup
}

// Start runs a bastion on 127.0.0.1 until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("bastion: listen: %v", err)
	}
	s := &Server{ln: ln, authorized: map[string]bool{}, conns: map[net.Conn]bool{}}
	s.ChangeHostKey()
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(s.Close)
	return s
}

// Host and Port are where the bastion listens.
func (s *Server) Host() string { return "127.0.0.1" }

// Port is the bastion's port.
func (s *Server) Port() string { return strconv.Itoa(s.ln.Addr().(*net.TCPAddr).Port) }

// Authorize lets the key of an authorized_keys line log in, as a line added to
// ~/.ssh/authorized_keys would.
func (s *Server) Authorize(authorizedKey string) {
	key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(authorizedKey))
	if err != nil {
		panic("bastion: authorize: " + err.Error())
	}
	s.mu.Lock()
	s.authorized[ssh.FingerprintSHA256(key)] = true
	s.mu.Unlock()
}

// Deauthorize refuses the key of an authorized_keys line again, as removing its line
// from ~/.ssh/authorized_keys would (for the logins to come).
func (s *Server) Deauthorize(authorizedKey string) {
	key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(authorizedKey))
	if err != nil {
		panic("bastion: deauthorize: " + err.Error())
	}
	s.mu.Lock()
	delete(s.authorized, ssh.FingerprintSHA256(key))
	s.mu.Unlock()
}

// ChangeHostKey gives the bastion a new Ed25519 host key, for the connections to come.
func (s *Server) ChangeHostKey() {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		panic(err)
	}
	s.mu.Lock()
	s.hostKey = signer
	s.mu.Unlock()
}

// HostKey is the bastion's host key as an authorized_keys line.
func (s *Server) HostKey() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.hostKey.PublicKey())))
}

// HostKeyFingerprint is the SHA256:… fingerprint of the host key.
func (s *Server) HostKeyFingerprint() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return ssh.FingerprintSHA256(s.hostKey.PublicKey())
}

// RefuseForwarding turns port forwarding off (or on again).
func (s *Server) RefuseForwarding(refuse bool) {
	s.mu.Lock()
	s.noForward = refuse
	s.mu.Unlock()
}

// Forwarded is how many direct-tcpip channels the bastion opened; Logins how many
// logins it accepted.
func (s *Server) Forwarded() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.forwarded
}

// Logins is how many SSH logins the bastion accepted.
func (s *Server) Logins() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logins
}

// DropConnections ends every open connection, as a restarted bastion or a firewall
// forgetting idle connections would; the bastion keeps listening.
func (s *Server) DropConnections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		_ = c.Close()
	}
}

// Close stops the bastion and ends its connections.
func (s *Server) Close() {
	_ = s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[conn] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.handle(conn)
			s.mu.Lock()
			delete(s.conns, conn)
			s.mu.Unlock()
		}()
	}
}

func (s *Server) handle(conn net.Conn) {
	defer conn.Close()
	s.mu.Lock()
	config := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.authorized[ssh.FingerprintSHA256(key)] {
				s.logins++
				return &ssh.Permissions{}, nil
			}
			return nil, fmt.Errorf("bastion: key %s is not authorized", ssh.FingerprintSHA256(key))
		},
	}
	config.AddHostKey(s.hostKey)
	s.mu.Unlock()
	sc, chans, reqs, err := ssh.NewServerConn(conn, config)
	if err != nil {
		return
	}
	defer sc.Close()
	go func() {
		// keepalive@openssh.com and the like: answered (with a failure, as sshd does),
		// which is all a keepalive needs.
		for r := range reqs {
			if r.WantReply {
				_ = r.Reply(false, nil)
			}
		}
	}()
	var channels sync.WaitGroup
	for nc := range chans {
		if nc.ChannelType() != "direct-tcpip" {
			_ = nc.Reject(ssh.UnknownChannelType, "only direct-tcpip")
			continue
		}
		channels.Add(1)
		go func() {
			defer channels.Done()
			s.forward(nc)
		}()
	}
	channels.Wait()
}

// forward opens the channel's target from the bastion and copies both ways.
func (s *Server) forward(nc ssh.NewChannel) {
	var target struct {
		Host       string
		Port       uint32
		OriginHost string
		OriginPort uint32
	}
	if err := ssh.Unmarshal(nc.ExtraData(), &target); err != nil {
		_ = nc.Reject(ssh.ConnectionFailed, "bad direct-tcpip request")
		return
	}
	s.mu.Lock()
	refuse := s.noForward
	s.mu.Unlock()
	if refuse {
		_ = nc.Reject(ssh.Prohibited, "administratively prohibited: open failed")
		return
	}
	up, err := net.Dial("tcp", net.JoinHostPort(target.Host, strconv.Itoa(int(target.Port))))
	if err != nil {
		_ = nc.Reject(ssh.ConnectionFailed, "connect failed: "+err.Error())
		return
	}
	defer up.Close()
	ch, reqs, err := nc.Accept()
	if err != nil {
		return
	}
	defer ch.Close()
	go ssh.DiscardRequests(reqs)
	s.mu.Lock()
	s.forwarded++
	s.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, ch); _ = up.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
	go func() { _, _ = io.Copy(ch, up); _ = ch.CloseWrite(); done <- struct{}{} }()
	// Either side ending ends both: a bastion shut down must not wait on a warehouse
	// connection that stays open.
	<-done
	_ = up.Close()
	_ = ch.Close()
	<-done
}
