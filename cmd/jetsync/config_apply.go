package main

import (
	"flag"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// A config file sets flags: each key is applied with flag.FlagSet.Set to
// the flag of the same name, so every flag of a command is a key of its
// file and a new flag needs nothing here. The schema only says where a
// key may appear.
type configSchema struct {
	// folder: the flags of one folder, set in a [[folder]]; at the top
	// level they are the default of every folder.
	folder map[string]bool
	// broker: the flags of the source's embedded broker, set in [broker].
	// nil: the command has no [broker].
	broker map[string]bool
}

// credentialKeys say who a daemon is on the broker: daemon-wide at the
// top level, and per folder in a [[folder]] (a replica's or a source's
// credentials are a folder's).
var credentialKeys = []string{"nkey", "creds", "user", "password-file", "token-file"}

// listKeys are repeatable flags: an array sets each element in turn.
var listKeys = []string{"exclude", "exclude-from"}

// namingKeys name a folder: only a [[folder]] has them.
var namingKeys = []string{"folder", "path"}

// flagNames are the names of the flags register adds.
func flagNames(register func(fs *flag.FlagSet)) map[string]bool {
	fs := flag.NewFlagSet("", flag.ContinueOnError)
	register(fs)
	names := map[string]bool{}
	fs.VisitAll(func(f *flag.Flag) { names[f.Name] = true })
	return names
}

// givenFlags are the flags the command line set.
func givenFlags(fs *flag.FlagSet) map[string]bool {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	return given
}

// checkCommandLine refuses folder settings on the command line of a
// daemon run from a config file, which could not say which folder they
// are for. --data stays: it is the daemon's own state directory, the
// parent of the folders'.
func (sc configSchema) checkCommandLine(given map[string]bool) error {
	for name := range given {
		if sc.folder[name] && name != "data" {
			return usagef("--%s is a folder setting: with --config, give it in the file (top level for every folder, or in a [[folder]])", name)
		}
	}
	return nil
}

// applyTop sets the daemon's flags in fs from the file's top level and
// [broker], except those the command line gave: flags override the file.
// Top-level folder settings are left for applyFolder.
func (sc configSchema) applyTop(fs *flag.FlagSet, c *configFile, given map[string]bool) error {
	seen := map[string]int{}
	for _, s := range c.top {
		switch {
		case slices.Contains(namingKeys, s.key):
			return c.errorf(s.line, "%q belongs in a [[folder]]", s.key)
		case sc.broker[s.key] && !strings.HasPrefix(s.key, "tls-"):
			return c.errorf(s.line, "%q belongs in [broker]", s.key)
		case s.key == "config" || fs.Lookup(s.key) == nil:
			return c.errorf(s.line, "unknown key %q", s.key)
		case sc.folder[s.key] && s.key != "data", given[s.key]:
			continue
		}
		if err := c.set(fs, s, seen); err != nil {
			return err
		}
	}
	if c.broker == nil {
		return nil
	}
	if sc.broker == nil {
		return c.errorf(c.broker.line, "unknown table [broker] (only a source embeds a broker)")
	}
	for _, s := range c.broker.settings {
		if !sc.broker[s.key] {
			return c.errorf(s.line, "unknown key %q in [broker]", s.key)
		}
		if !given[s.key] {
			if err := c.set(fs, s, seen); err != nil {
				return err
			}
		}
	}
	return nil
}

// applyFolder sets a folder's flags in fs: the top level's folder
// settings, then its own (a list adds to the top level's).
func (sc configSchema) applyFolder(fs *flag.FlagSet, c *configFile, sec section) error {
	seen := map[string]int{}
	for _, s := range c.top {
		if sc.folder[s.key] && s.key != "data" && !slices.Contains(namingKeys, s.key) {
			if err := c.set(fs, s, seen); err != nil {
				return err
			}
		}
	}
	seen = map[string]int{}
	for _, s := range sec.settings {
		if !sc.folder[s.key] && !slices.Contains(credentialKeys, s.key) {
			return c.errorf(s.line, "unknown key %q in [[folder]]", s.key)
		}
		if err := c.set(fs, s, seen); err != nil {
			return err
		}
	}
	return nil
}

// set applies one setting to its flag.
func (c *configFile) set(fs *flag.FlagSet, s setting, seen map[string]int) error {
	if prev, ok := seen[s.key]; ok {
		return c.errorf(s.line, "%q is already set on line %d", s.key, prev)
	}
	seen[s.key] = s.line
	if s.list && !slices.Contains(listKeys, s.key) {
		return c.errorf(s.line, "%s takes one value, not a list", s.key)
	}
	for _, v := range s.values {
		if err := fs.Set(s.key, v); err != nil {
			return c.errorf(s.line, "invalid %s %q: %v", s.key, v, err)
		}
	}
	return nil
}

// folderName is a [[folder]]'s name, which it must have.
func (c *configFile) folderName(sec section) (string, error) {
	for _, s := range sec.settings {
		if s.key == "folder" && len(s.values) == 1 && s.values[0] != "" {
			return s.values[0], nil
		}
	}
	return "", c.errorf(sec.line, "[[folder]] without folder = \"NAME\"")
}

// folderError places an error of a folder's settings, found once they
// are all applied, on the line of the key it names ("--content-cache:
// ..."), the folder's own or else the top level's, or else on the
// folder's header.
func (c *configFile) folderError(sec section, folder string, err error) error {
	line := sec.line
	for _, list := range [][]setting{c.top, sec.settings} {
		for _, s := range list {
			if strings.Contains(err.Error(), "--"+s.key) {
				line = s.line
			}
		}
	}
	return c.errorf(line, "folder %s: %v", folder, err)
}

// checkFolders refuses two folders of the same name.
func (c *configFile) checkFolders(names []string) error {
	first := map[string]int{}
	for i, n := range names {
		if j, ok := first[n]; ok {
			return c.errorf(c.folders[i].line, "folder %s is already defined on line %d", n, c.folders[j].line)
		}
		first[n] = i
	}
	return nil
}

// folderData is a folder's state directory: its own data, or else
// DATA/FOLDER under the daemon's. reserved are names under DATA the
// daemon keeps for itself (the embedded broker's store and credentials).
func (c *configFile) folderData(sec section, own, daemon, folder string, reserved ...string) (string, error) {
	if own != "" {
		return own, nil
	}
	if daemon == "" {
		return "", c.errorf(sec.line, "folder %s: data is required (at the top level, the parent of every folder's, or in its [[folder]])", folder)
	}
	if slices.Contains(reserved, folder) {
		return "", c.errorf(sec.line, "folder %s: its data would be %s, which the daemon keeps for itself: give it a data key",
			folder, filepath.Join(daemon, folder))
	}
	return filepath.Join(daemon, folder), nil
}

// fingerprint is everything a folder runs with, to tell at a reload
// whether it changed: its flags' values and the settings applied to it
// (a repeatable flag shows no value of its own). Other top-level keys
// are left out: changing one restarts no folder.
func (sc configSchema) fingerprint(fs *flag.FlagSet, c *configFile, sec section, extra ...string) string {
	var b strings.Builder
	fs.VisitAll(func(f *flag.Flag) { fmt.Fprintf(&b, "%s=%q\n", f.Name, f.Value.String()) })
	for _, s := range c.top {
		if sc.folder[s.key] {
			fmt.Fprintf(&b, "%s:%q\n", s.key, s.values)
		}
	}
	for _, s := range sec.settings {
		fmt.Fprintf(&b, "%s:%q\n", s.key, s.values)
	}
	fmt.Fprintf(&b, "%q", extra)
	return b.String()
}

// processWide are a daemon's flags that are not a folder's: a reload
// cannot change them (they need a restart). data is among them, being
// the parent of the folders' and the embedded broker's state.
func (sc configSchema) processWide(fs *flag.FlagSet) map[string]string {
	out := map[string]string{}
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == "config" || (sc.folder[f.Name] && f.Name != "data") || slices.Contains(credentialKeys, f.Name) {
			return
		}
		out[f.Name] = f.Value.String()
	})
	return out
}

// registerConfig adds --config.
func registerConfig(fs *flag.FlagSet, path *string) {
	fs.StringVar(path, "config", "", "read the daemon's settings and any number of folders from this TOML `FILE` (see docs/CONFIG.md); SIGHUP reads it again")
}
