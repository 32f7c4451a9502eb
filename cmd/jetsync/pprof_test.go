package main

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

func TestPprofServesOnLoopbackOnly(t *testing.T) {
	t.Setenv(pprofEnv, "0.0.0.0:0")
	if _, err := startPprof(); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("non-loopback address: %v, want a refusal", err)
	}

	// Reserve a free loopback port, then let startPprof bind it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	t.Setenv(pprofEnv, addr)
	stop, err := startPprof()
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	resp, err := http.Get("http://" + addr + "/debug/pprof/heap?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "HeapAlloc") {
		t.Fatalf("heap profile: %s\n%.200s", resp.Status, body)
	}

	t.Setenv(pprofEnv, "")
	if stop, err := startPprof(); err != nil || stop == nil {
		t.Fatalf("unset: %v", err)
	}
}
