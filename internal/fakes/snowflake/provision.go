package snowflake

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
)

// NewKey makes an RSA key pair as Snowflake's guide does (2048 bits) and answers it
// with its private half in PEM (PKCS#8, "BEGIN PRIVATE KEY"), what a user pastes.
func NewKey() (*rsa.PrivateKey, string, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, "", err
	}
	return key, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), nil
}

// Reader describes what a read-only user for Sluice is given: a user with a key, a role
// granted to it, a warehouse the role may use, USAGE on the database and on a schema,
// and SELECT on some of its tables.
type Reader struct {
	User, Role, Warehouse, Schema string
	// Tables of Schema the role may read (they must exist).
	Tables []string
	// Suspended leaves the warehouse suspended (with AUTO_RESUME on unless NoAutoResume).
	Suspended    bool
	NoAutoResume bool
}

// Provision creates the schema when missing and everything r describes, and answers the
// user's private key in PEM.
func (s *Server) Provision(ctx context.Context, r Reader) (string, error) {
	key, keyPEM, err := NewKey()
	if err != nil {
		return "", err
	}
	if err := s.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+quote(r.Schema)); err != nil {
		return "", err
	}
	if err := s.AddRole(ctx, r.Role); err != nil {
		return "", err
	}
	s.AddUser(r.User, &key.PublicKey, r.Role)
	state := "STARTED"
	if r.Suspended {
		state = "SUSPENDED"
	}
	s.AddWarehouse(Warehouse{Name: r.Warehouse, State: state, AutoResume: !r.NoAutoResume})
	s.GrantWarehouse(r.Role, r.Warehouse, true)
	s.GrantDatabase(r.Role, true)
	if err := s.GrantSchema(ctx, r.Role, r.Schema, true); err != nil {
		return "", err
	}
	for _, t := range r.Tables {
		if err := s.GrantSelect(ctx, r.Role, r.Schema, t, true); err != nil {
			return "", err
		}
	}
	return keyPEM, nil
}
