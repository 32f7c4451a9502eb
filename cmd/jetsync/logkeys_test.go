package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestLogKeysAreUnique(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(newUniqueKeys(slog.NewJSONHandler(&buf, &slog.HandlerOptions{ReplaceAttr: durationSeconds})))
	src := log.With("component", "source", "folder", "photos")
	src.With("component", "watch", "root", "/x").Info("watching", "took", 1500*time.Millisecond)
	src.Info("scan", "folder", "other")
	src.WithGroup("g").Info("grouped", "component", "inner")

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines: %s", len(lines), buf.String())
	}
	for _, l := range lines[:2] {
		if n := strings.Count(l, `"component"`); n != 1 {
			t.Errorf("component %d times in %s", n, l)
		}
		if strings.Count(l, `"folder"`) != 1 {
			t.Errorf("folder not once in %s", l)
		}
	}
	var first map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	if first["component"] != "watch" || first["folder"] != "photos" || first["root"] != "/x" || first["took"] != 1.5 {
		t.Errorf("first line %v: want component watch, folder photos, root /x, took 1.5 (seconds)", first)
	}
	var second map[string]any
	_ = json.Unmarshal([]byte(lines[1]), &second)
	if second["folder"] != "other" || second["component"] != "source" {
		t.Errorf("second line %v: the record's own folder replaces the inherited one", second)
	}
	if !strings.Contains(lines[2], `"component":"source","folder":"photos","g":{"component":"inner"}`) {
		t.Errorf("grouped line %s: want the inherited keys, then the group's own", lines[2])
	}
}
