package broker

import "testing"

func TestIsLoopback(t *testing.T) {
	tests := []struct {
		listen string
		want   bool
	}{
		{"127.0.0.1:4222", true},
		{"127.0.0.2:4222", true},
		{"[::1]:4222", true},
		{"localhost:4222", true},
		{"LocalHost.:4222", true},
		{"[::ffff:127.0.0.1]:4222", true},
		{"", true},
		{"0.0.0.0:4222", false},
		{":4222", false},
		{"[::]:4222", false},
		{"10.0.0.5:4222", false},
		{"example.com:4222", false},
		{"127.0.0.1", false},
		{"localhost.example.com:4222", false},
	}
	for _, tt := range tests {
		if got := IsLoopback(tt.listen); got != tt.want {
			t.Errorf("IsLoopback(%q) = %v, want %v", tt.listen, got, tt.want)
		}
	}
}

func TestParseHostPort(t *testing.T) {
	tests := []struct {
		addr     string
		host     string
		port     int
		wantFail bool
	}{
		{addr: "127.0.0.1:4222", host: "127.0.0.1", port: 4222},
		{addr: ":4222", host: "", port: 4222},
		{addr: "[::1]:-1", host: "::1", port: randomPort},
		{addr: "127.0.0.1:0", host: "127.0.0.1", port: randomPort},
		{addr: "127.0.0.1", wantFail: true},
		{addr: "127.0.0.1:http", wantFail: true},
		{addr: "127.0.0.1:65536", wantFail: true},
		{addr: "127.0.0.1:-2", wantFail: true},
	}
	for _, tt := range tests {
		host, port, err := parseHostPort(tt.addr)
		if tt.wantFail {
			if err == nil {
				t.Errorf("parseHostPort(%q) succeeded, want error", tt.addr)
			}
			continue
		}
		if err != nil || host != tt.host || port != tt.port {
			t.Errorf("parseHostPort(%q) = %q, %d, %v; want %q, %d", tt.addr, host, port, err, tt.host, tt.port)
		}
	}
}

func TestDialableHost(t *testing.T) {
	for in, want := range map[string]string{
		"":          "127.0.0.1",
		"0.0.0.0":   "127.0.0.1",
		"::":        "::1",
		"10.0.0.5":  "10.0.0.5",
		"localhost": "localhost",
	} {
		if got := dialableHost(in); got != want {
			t.Errorf("dialableHost(%q) = %q, want %q", in, got, want)
		}
	}
}
