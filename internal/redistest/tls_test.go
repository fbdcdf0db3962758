package redistest_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/codomyrmex/concurrency/internal/redistest"
)

// tlsClient returns a go-redis client for addr with cfg, closed at the end
// of the test.
func tlsClient(t *testing.T, addr string, cfg *tls.Config) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: addr, TLSConfig: cfg, DialTimeout: time.Second, ReadTimeout: time.Second, MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// A TLS server answers a client with the CA and a client certificate, and
// refuses plain TCP, a client that does not trust the CA and a client
// without a certificate.
func TestStartTLS(t *testing.T) {
	s := redistest.StartTLS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tlsClient(t, s.Addr(), s.Config).Ping(ctx).Err(); err != nil {
		t.Fatalf("PING over TLS: %v", err)
	}
	if roundTrip(t, s.Addr(), 200*time.Millisecond) {
		t.Fatal("PONG over plain TCP from a TLS-only server")
	}

	noCA := s.Config.Clone()
	noCA.RootCAs = x509.NewCertPool()
	err := tlsClient(t, s.Addr(), noCA).Ping(ctx).Err()
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Fatalf("PING without the CA = %v, want x509.UnknownAuthorityError", err)
	}

	noCert := s.Config.Clone()
	noCert.Certificates = nil
	if err := tlsClient(t, s.Addr(), noCert).Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("PING without a client certificate = %v, want a certificate error", err)
	}
}
