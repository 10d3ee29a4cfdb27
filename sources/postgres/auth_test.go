//go:build unix

package postgres_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"sluice/connectors"
	"sluice/sources/postgres"
)

// passwordServer is a throwaway PostgreSQL cluster that checks passwords
// (scram-sha-256 on loopback) and has SSL off. The shared test server trusts loopback,
// so it cannot say "wrong password"; this one is a real server that does.
type passwordServer struct {
	port     int
	user     string
	password string
}

// startPasswordServer runs initdb and pg_ctl from the PostgreSQL installation (as the
// postgres OS user when the test runs as root, since the server refuses root). It skips
// when no installation is found; the error mapping is then still covered by the unit
// tests on pgconn's error type.
func startPasswordServer(t *testing.T) passwordServer {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a PostgreSQL cluster")
	}
	bin := postgresBinDir()
	if bin == "" {
		t.Skip("initdb and pg_ctl not found (PATH or pg_config --bindir)")
	}
	var cred *syscall.Credential
	dir, err := os.MkdirTemp("", "sluice-pgauth-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if os.Geteuid() == 0 {
		pg, err := user.Lookup("postgres")
		if err != nil {
			t.Skip("running as root and there is no postgres user to run the server as")
		}
		uid, _ := strconv.Atoi(pg.Uid)
		gid, _ := strconv.Atoi(pg.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	run := func(name string, args ...string) {
		t.Helper()
		cmd := exec.Command(filepath.Join(bin, name), args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "LC_ALL=C", "LANG=C")
		if cred != nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Skipf("%s failed, cannot start a password-checking server: %v\n%s", name, err, out)
		}
	}

	s := passwordServer{user: randomName("sluice_pw_"), password: "right"}
	pwfile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwfile, []byte(s.password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if cred != nil {
		_ = os.Chown(pwfile, int(cred.Uid), int(cred.Gid))
	}
	data := filepath.Join(dir, "data")
	run("initdb", "-D", data, "-U", s.user, "--pwfile", pwfile, "--auth", "scram-sha-256",
		"-E", "UTF8", "--locale", "C", "--no-sync", "--no-instructions")

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	opts := "-c listen_addresses=127.0.0.1 -c port=" + strconv.Itoa(s.port) + " -c unix_socket_directories=" + dir + " -c fsync=off -c ssl=off"
	run("pg_ctl", "-D", data, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "-t", "60", "start")
	t.Cleanup(func() {
		cmd := exec.Command(filepath.Join(bin, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop")
		cmd.Dir = dir
		if cred != nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		}
		_ = cmd.Run()
	})
	return s
}

func postgresBinDir() string {
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := exec.LookPath("pg_ctl"); err == nil {
			if real, err := filepath.EvalSymlinks(p); err == nil {
				return filepath.Dir(real)
			}
			return filepath.Dir(p)
		}
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dir := strings.TrimSpace(string(out))
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			return dir
		}
	}
	return ""
}

func (s passwordServer) config(password, sslmode string) connectors.Config {
	return connectors.Config{"host": "127.0.0.1", "port": strconv.Itoa(s.port), "database": "postgres",
		"user": s.user, "password": password, "sslmode": sslmode}
}

func TestPasswordServer(t *testing.T) {
	s := startPasswordServer(t)

	t.Run("the right password validates", func(t *testing.T) {
		expectAllOK(t, validate(t, open(t, postgres.New(), s.config("right", "disable")), nil))
	})
	t.Run("a wrong password fails the connection stage", func(t *testing.T) {
		src := open(t, postgres.New(), s.config("wrong", "disable"))
		checks := validate(t, src, nil)
		expectFailure(t, checks, connectors.StageConnection, "The user or password is wrong.", "Skipped: fix the connection first.")
		if checks[0].Message != "The user or password is wrong." {
			t.Errorf("message = %q", checks[0].Message)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := src.Query(ctx, "SELECT 1", nil, func([]any) error { return nil })
		ce, ok := connectors.AsError(err)
		if !ok || ce.Category != connectors.CategoryCredentials || ce.Field != "password" || ce.Retryable {
			t.Fatalf("query error = %#v, want credentials on the password field", err)
		}
		t.Logf("server said: %s", ce.Detail)
		if strings.Contains(ce.Detail, "wrong") {
			t.Errorf("the detail must not carry the password: %q", ce.Detail)
		}
	})
	t.Run("require against a server without TLS", func(t *testing.T) {
		checks := validate(t, open(t, postgres.New(), s.config("right", "require")), nil)
		expectFailure(t, checks, connectors.StageConnection, "does not accept encrypted (TLS) connections", "Skipped: fix the connection first.")
	})
}
