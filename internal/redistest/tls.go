package redistest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// certValidity is the lifetime of the certificates StartTLS generates:
// long enough for any test, short enough to be useless after it.
const certValidity = time.Hour

// A TLSServer is a redis-server child process that accepts only TLS
// connections, from clients with a certificate signed by its test CA.
type TLSServer struct {
	addr string
	// Config is what a client needs: the test CA as its only root and a
	// client certificate signed by it. Clone it before changing it.
	Config *tls.Config
}

// Addr returns the server's TLS address, "127.0.0.1:port".
func (s *TLSServer) Addr() string { return s.addr }

// StartTLS starts a redis-server that listens on a free loopback port for
// TLS only (--port 0 --tls-port) and requires client certificates
// (--tls-auth-clients yes). It generates, in tb.TempDir(), a CA, a server
// certificate for 127.0.0.1 and a client certificate, all ECDSA P-256 and
// valid for an hour; the returned server's Config carries the client side.
// Extra arguments are appended to the command line. The server is killed in
// tb.Cleanup. It skips or fails as Start does.
func StartTLS(tb testing.TB, args ...string) *TLSServer {
	tb.Helper()
	bin := Binary(tb)
	dir := tb.TempDir()
	cfg, err := writeCerts(dir)
	if err != nil {
		tb.Fatalf("redistest: generate certificates: %v", err)
	}
	for range 5 { // another process may take the free port before we bind it
		var port int
		if port, err = freePort(); err != nil {
			break
		}
		s := &TLSServer{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Config: cfg}
		var p *process
		if p, err = s.start(bin, dir, port, args); err == nil {
			tb.Cleanup(func() {
				_ = p.cmd.Process.Kill()
				<-p.exited
			})
			return s
		}
	}
	tb.Fatalf("redistest: start redis-server with TLS: %v", err)
	return nil
}

// start runs redis-server with TLS on port and waits until it answers PING
// over TLS.
func (s *TLSServer) start(bin, dir string, port int, extra []string) (*process, error) {
	logPath := filepath.Join(dir, "redis.log")
	args := append([]string{
		"--port", "0",
		"--tls-port", strconv.Itoa(port),
		"--tls-cert-file", filepath.Join(dir, "server.crt"),
		"--tls-key-file", filepath.Join(dir, "server.key"),
		"--tls-ca-cert-file", filepath.Join(dir, "ca.crt"),
		"--tls-auth-clients", "yes",
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", dir,
		"--logfile", logPath,
		"--daemonize", "no",
	}, extra...)
	return spawn(bin, dir, args, logPath, s.ping)
}

// ping sends PING over a fresh TLS connection and expects +PONG.
func (s *TLSServer) ping() error {
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: time.Second}, Config: s.Config}
	conn, err := d.Dial("tcp", s.addr)
	if err != nil {
		return err
	}
	return pingConn(conn)
}

// writeCerts writes ca.crt, server.crt and server.key to dir and returns a
// client configuration trusting the CA, with a client certificate.
func writeCerts(dir string) (*tls.Config, error) {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	ca := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "redistest CA"},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(certValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caCert, caDER, err := sign(ca, ca, caKey, caKey)
	if err != nil {
		return nil, err
	}
	serverKey, serverDER, err := leaf(caCert, caKey, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		return nil, err
	}
	clientKey, clientDER, err := leaf(caCert, caKey, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "redistest client"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return nil, err
	}
	serverKeyDER, err := x509.MarshalECPrivateKey(serverKey)
	if err != nil {
		return nil, err
	}
	for name, block := range map[string]*pem.Block{
		"ca.crt":     {Type: "CERTIFICATE", Bytes: caDER},
		"server.crt": {Type: "CERTIFICATE", Bytes: serverDER},
		"server.key": {Type: "EC PRIVATE KEY", Bytes: serverKeyDER},
	} {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(block), 0o600); err != nil {
			return nil, err
		}
	}
	roots := x509.NewCertPool()
	roots.AddCert(caCert)
	return &tls.Config{
		RootCAs:      roots,
		ServerName:   "127.0.0.1",
		Certificates: []tls.Certificate{{Certificate: [][]byte{clientDER}, PrivateKey: clientKey}},
		MinVersion:   tls.VersionTLS12,
	}, nil
}

// leaf generates a key for tmpl and signs it with the CA.
func leaf(ca *x509.Certificate, caKey *ecdsa.PrivateKey, tmpl *x509.Certificate) (*ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl.NotBefore, tmpl.NotAfter = now.Add(-time.Minute), now.Add(certValidity)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	_, der, err := sign(tmpl, ca, key, caKey)
	return key, der, err
}

// sign gives tmpl a random serial number and signs it with parent's key.
func sign(tmpl, parent *x509.Certificate, key, parentKey *ecdsa.PrivateKey) (*x509.Certificate, []byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	tmpl.SerialNumber = serial
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, der, err
}
