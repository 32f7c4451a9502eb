package netfaults

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// echoServer answers every line with the same line.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

func newTestProxy(t *testing.T, target string) *Proxy {
	t.Helper()
	p, err := NewProxy(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

type echoClient struct {
	c net.Conn
	r *bufio.Reader
}

func dialEcho(t *testing.T, addr string) *echoClient {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &echoClient{c: c, r: bufio.NewReader(c)}
}

// roundTrip sends line and waits at most wait for its echo.
func (e *echoClient) roundTrip(line string, wait time.Duration) (string, error) {
	if _, err := e.c.Write([]byte(line + "\n")); err != nil {
		return "", err
	}
	return e.read(wait)
}

func (e *echoClient) read(wait time.Duration) (string, error) {
	_ = e.c.SetReadDeadline(time.Now().Add(wait))
	s, err := e.r.ReadString('\n')
	return s, err
}

// TestProxy checks the proxy itself: forwarding, blackhole (held, then
// resumed without loss), drop (closed, new connections closed), heal.
func TestProxy(t *testing.T) {
	p := newTestProxy(t, echoServer(t))
	a := dialEcho(t, p.Addr())
	if got, err := a.roundTrip("one", 2*time.Second); err != nil || got != "one\n" {
		t.Fatalf("open: got %q, %v", got, err)
	}

	p.Blackhole()
	if got, err := a.roundTrip("two", 300*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("blackholed: got %q, %v; want a timeout", got, err)
	}
	b := dialEcho(t, p.Addr()) // accepted and held
	if _, err := b.c.Write([]byte("held\n")); err != nil {
		t.Fatal(err)
	}
	if got, err := b.read(300 * time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("new connection while blackholed: got %q, %v; want a timeout", got, err)
	}
	p.Heal()
	if got, err := a.read(2 * time.Second); err != nil || got != "two\n" {
		t.Fatalf("after heal, the held line: got %q, %v", got, err)
	}
	if got, err := b.read(2 * time.Second); err != nil || got != "held\n" {
		t.Fatalf("after heal, the connection held while blackholed: got %q, %v", got, err)
	}

	if n := p.Drop(); n != 2 {
		t.Errorf("Drop closed %d connections, want 2", n)
	}
	if got, err := a.roundTrip("three", 2*time.Second); err == nil {
		t.Fatalf("dropped: got %q, want an error", got)
	}
	c := dialEcho(t, p.Addr())
	if got, err := c.roundTrip("four", 2*time.Second); err == nil {
		t.Fatalf("new connection while dropped: got %q, want an error", got)
	}
	p.Heal()
	d := dialEcho(t, p.Addr())
	if got, err := d.roundTrip("five", 2*time.Second); err != nil || got != "five\n" {
		t.Fatalf("healed: got %q, %v", got, err)
	}
	acc, ref, sev, _ := p.Stats()
	if acc != 4 || ref != 1 || sev != 2 {
		t.Errorf("stats: accepted %d refused %d severed %d, want 4 1 2", acc, ref, sev)
	}
}
