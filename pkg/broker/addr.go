package broker

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// randomPort is the nats-server convention for "pick any free port". Port 0
// means "use the default port" to nats-server, which surprises anyone used to
// net.Listen, so parseHostPort maps 0 to randomPort as well.
const randomPort = -1

// parseHostPort splits a "host:port" listen address for server.Options.
func parseHostPort(addr string) (string, int, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("parse listen address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < randomPort || port > 65535 {
		return "", 0, fmt.Errorf("parse listen address %q: invalid port %q", addr, portStr)
	}
	if port == 0 {
		port = randomPort
	}
	return host, port, nil
}

// IsLoopback reports whether a listen address only accepts local connections
// ("127.0.0.1:4222", "[::1]:4222", "localhost:4222" → true; "0.0.0.0:4222",
// ":4222", "10.0.0.5:4222" → false). Host names other than localhost are not
// resolved and count as non-loopback, so the answer errs on the safe side.
// The empty address means "no TCP listener" in Config and is reported as
// loopback because nothing outside the process can connect.
func IsLoopback(listen string) bool {
	if listen == "" {
		return true
	}
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	return ip.Unmap().IsLoopback()
}

// dialableHost turns a bind host into one a local client can dial: a
// wildcard bind accepts loopback connections too, and "0.0.0.0" is not a
// destination address on every platform.
func dialableHost(host string) string {
	if host == "" {
		return "127.0.0.1"
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.IsUnspecified() {
		return host
	}
	if ip.Is4() {
		return "127.0.0.1"
	}
	return "::1"
}
