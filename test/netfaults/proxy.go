package netfaults

import (
	"bytes"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Mode is the state of a Proxy's link.
type Mode int

const (
	// Open forwards everything.
	Open Mode = iota
	// Dropped closes every connection and closes new ones on arrival: a
	// cut cable or a peer that resets everything.
	Dropped
	// Blackholed holds every connection, old and new, and forwards
	// nothing in either direction: packets vanish, no one is told. Bytes
	// sent meanwhile wait in the proxy and the kernel's buffers, as they
	// would in TCP retransmissions, and flow again on Heal.
	Blackholed
)

func (m Mode) String() string {
	switch m {
	case Open:
		return "open"
	case Dropped:
		return "dropped"
	case Blackholed:
		return "blackholed"
	}
	return "closed"
}

// closedMode is the state after Close.
const closedMode Mode = -1

// Proxy is a TCP forwarder from a local listener to one target address,
// with a switch that cuts or blackholes the link. It is safe for
// concurrent use.
type Proxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	mode    Mode
	changed chan struct{} // closed and replaced at every change of mode
	links   map[*link]struct{}
	wg      sync.WaitGroup

	accepted atomic.Int64 // connections accepted
	refused  atomic.Int64 // connections closed on arrival (Dropped)
	severed  atomic.Int64 // live connections closed by Drop
	bytes    atomic.Int64 // bytes forwarded, both directions

	tap atomic.Pointer[func([]byte)] // sees every byte forwarded (SetTap)
}

// SetTap makes fn see every byte the proxy forwards, in either
// direction, as it forwards them (a copy it may keep); nil stops it. fn
// is called from the proxy's goroutines, concurrently.
func (p *Proxy) SetTap(fn func([]byte)) {
	if fn == nil {
		p.tap.Store(nil)
		return
	}
	p.tap.Store(&fn)
}

// link is one proxied connection.
type link struct {
	client net.Conn
	mu     sync.Mutex
	server net.Conn // nil until dialled
	closed bool
}

func (l *link) setServer(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.server = c
	return true
}

func (l *link) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	l.client.Close()
	if l.server != nil {
		l.server.Close()
	}
}

// NewProxy listens on a free loopback port and forwards to target.
func NewProxy(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, changed: make(chan struct{}), links: map[*link]struct{}{}}
	p.wg.Go(p.acceptLoop)
	return p, nil
}

// Addr is the proxy's listen address, "127.0.0.1:port".
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// URL is nats://Addr.
func (p *Proxy) URL() string { return "nats://" + p.Addr() }

// Mode returns the current mode.
func (p *Proxy) Mode() Mode {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mode
}

// Stats reports how many connections were accepted, closed on arrival
// while dropped, and closed by Drop while live, and how many bytes were
// forwarded.
func (p *Proxy) Stats() (accepted, refused, severed, bytes int64) {
	return p.accepted.Load(), p.refused.Load(), p.severed.Load(), p.bytes.Load()
}

// Live returns the number of connections currently held.
func (p *Proxy) Live() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.links)
}

// Drop closes every connection and closes new ones as they arrive, until
// Heal or Blackhole. It returns how many live connections it closed.
func (p *Proxy) Drop() int {
	p.mu.Lock()
	if p.mode == closedMode {
		p.mu.Unlock()
		return 0
	}
	p.setModeLocked(Dropped)
	links := p.links
	p.links = map[*link]struct{}{}
	p.mu.Unlock()
	for l := range links {
		l.close()
	}
	p.severed.Add(int64(len(links)))
	return len(links)
}

// Blackhole stops forwarding in both directions; connections stay open
// and new ones are accepted and held, until Heal or Drop.
func (p *Proxy) Blackhole() { p.setMode(Blackholed) }

// Heal forwards again: held connections resume where they stopped, new
// ones are forwarded.
func (p *Proxy) Heal() { p.setMode(Open) }

func (p *Proxy) setMode(m Mode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mode != closedMode {
		p.setModeLocked(m)
	}
}

func (p *Proxy) setModeLocked(m Mode) {
	p.mode = m
	close(p.changed)
	p.changed = make(chan struct{})
}

// Close stops listening, closes every connection and waits for the
// proxy's goroutines.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.mode == closedMode {
		p.mu.Unlock()
		return nil
	}
	p.setModeLocked(closedMode)
	links := p.links
	p.links = map[*link]struct{}{}
	p.mu.Unlock()
	err := p.ln.Close()
	for l := range links {
		l.close()
	}
	p.wg.Wait()
	return err
}

// gate waits until the link may forward: true when open, false once
// dropped or closed (the caller then closes its connection).
func (p *Proxy) gate() bool {
	for {
		p.mu.Lock()
		m, ch := p.mode, p.changed
		p.mu.Unlock()
		switch m {
		case Open:
			return true
		case Blackholed:
			<-ch
		default:
			return false
		}
	}
}

func (p *Proxy) acceptLoop() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond) // e.g. EMFILE: do not spin
			continue
		}
		p.accepted.Add(1)
		l := &link{client: c}
		p.mu.Lock()
		if p.mode == Dropped || p.mode == closedMode {
			p.mu.Unlock()
			p.refused.Add(1)
			c.Close()
			continue
		}
		p.links[l] = struct{}{}
		p.mu.Unlock()
		p.wg.Go(func() { p.serve(l) })
	}
}

// serve dials the target once the link is open (a connection accepted
// while blackholed is held first) and forwards both ways.
func (p *Proxy) serve(l *link) {
	defer p.forget(l)
	if !p.gate() {
		return
	}
	s, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		return
	}
	if !l.setServer(s) {
		s.Close()
		return
	}
	var wg sync.WaitGroup
	wg.Go(func() { p.pipe(s, l.client) })
	wg.Go(func() { p.pipe(l.client, s) })
	wg.Wait()
}

func (p *Proxy) forget(l *link) {
	l.close()
	p.mu.Lock()
	delete(p.links, l)
	p.mu.Unlock()
}

// pipe copies from src to dst, holding each read until the gate opens.
// When either side fails or ends, both are closed, so the other direction
// ends too (NATS has no use for half-closed connections).
func (p *Proxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.gate() {
				return
			}
			if tap := p.tap.Load(); tap != nil {
				(*tap)(bytes.Clone(buf[:n]))
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
			p.bytes.Add(int64(n))
		}
		if err != nil {
			return
		}
	}
}
