package handlers_test

import (
	"bytes"
	"net/http/httptest"
	"testing"

	"sluice/config"
	"sluice/connectors"
	"sluice/internal/testutil"
	"sluice/secrets"
)

// Changing SLUICE_SECRET_KEY signs nobody out: an instance on the key ring "NEW,OLD"
// reads the session cookies signed under OLD; one on NEW alone does not.
func TestSessionsSurviveAKeyChange(t *testing.T) {
	s := testutil.Store(t, testutil.SQLiteURL(t))
	testutil.Admin(t, s)
	before := serve(t, s) // signs with serveWith's key, 0x5a…
	browser := before.client(t)
	browser.signIn("admin@example.com", testutil.Password)

	old := bytes.Repeat([]byte{0x5a}, secrets.KeySize)
	fresh := bytes.Repeat([]byte{0x17}, secrets.KeySize)
	on := func(key []byte) *client {
		box, err := secrets.New(key)
		if err != nil {
			t.Fatal(err)
		}
		e, _ := handlersFor(s, box, config.Default(), connectors.NewRegistry())
		srv := httptest.NewServer(e)
		t.Cleanup(srv.Close)
		return &client{t: t, base: srv.URL, hc: browser.hc} // the same browser: cookies are per host, not per port
	}
	if !on(append(append([]byte(nil), fresh...), old...)).signedIn() {
		t.Fatal("an instance on the ring NEW,OLD signed out a user signed in under OLD")
	}
	if on(fresh).signedIn() {
		t.Fatal("an instance on NEW alone read a cookie signed under OLD: the test proves nothing")
	}
}
