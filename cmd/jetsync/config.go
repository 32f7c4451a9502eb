package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// A config file (--config) is TOML: top-level keys, an optional [broker]
// table (the source's embedded broker) and any number of [[folder]]
// tables. Every key is the name of a command-line flag and its value is
// what the flag would be given; docs/CONFIG.md lists them. The file is
// read into settings that keep their line, so that whatever is wrong
// with a value, found now or when it is applied to its flag, names the
// line.

// setting is one key of the file and its value(s) as flag arguments: one,
// or one per element of an array (for repeatable flags such as exclude).
type setting struct {
	key    string
	values []string
	list   bool // the value was an array
	line   int
}

// section is a [broker] or [[folder]] table.
type section struct {
	line     int // of its header
	settings []setting
}

// configFile is a parsed config file.
type configFile struct {
	path    string
	top     []setting
	broker  *section
	folders []section
}

// configError is a mistake in a config file, at a line (0: the whole
// file). It is a usage error: exit status 2.
type configError struct {
	path string
	line int
	msg  string
}

func (e *configError) Error() string {
	if e.line == 0 {
		return fmt.Sprintf("%s: %s", e.path, e.msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.path, e.line, e.msg)
}

func (c *configFile) errorf(line int, format string, args ...any) error {
	return usageError{&configError{path: c.path, line: line, msg: fmt.Sprintf(format, args...)}}
}

// readConfig reads and parses the config file at path.
func readConfig(path string) (*configFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, usagef("read config: %w", err)
	}
	return parseConfig(path, data)
}

// parseConfig parses a config file's content. The TOML decoder checks
// what the document as a whole must be (no key or table defined twice);
// the parser's expressions then give each key its line.
func parseConfig(path string, data []byte) (*configFile, error) {
	c := &configFile{path: path}
	var doc map[string]any
	if err := toml.Unmarshal(data, &doc); err != nil {
		var de *toml.DecodeError
		if errors.As(err, &de) {
			line, _ := de.Position()
			return nil, c.errorf(line, "%s", de.Error())
		}
		return nil, c.errorf(0, "%v", err)
	}
	p := unstable.Parser{}
	p.Reset(data)
	cur := &c.top
	for p.NextExpression() {
		e := p.Expression()
		var err error
		switch e.Kind {
		case unstable.KeyValue:
			err = c.addKeyValue(&p, e, cur)
		case unstable.Table, unstable.ArrayTable:
			cur, err = c.openTable(&p, e)
		}
		if err != nil {
			return nil, err
		}
	}
	if err := p.Error(); err != nil {
		return nil, c.errorf(0, "%v", err) // the decoder above reports syntax errors first
	}
	return c, nil
}

// openTable starts [broker] or a [[folder]]; any other table is an error.
func (c *configFile) openTable(p *unstable.Parser, e *unstable.Node) (*[]setting, error) {
	name, line := keyOf(p, e.Key())
	switch {
	case name == "broker" && e.Kind == unstable.Table:
		c.broker = &section{line: line}
		return &c.broker.settings, nil
	case name == "folder" && e.Kind == unstable.ArrayTable:
		c.folders = append(c.folders, section{line: line})
		return &c.folders[len(c.folders)-1].settings, nil
	case name == "folder":
		return nil, c.errorf(line, "write each folder as [[folder]] (an array of tables), not [folder]")
	}
	return nil, c.errorf(line, "unknown table %q (want [broker] or [[folder]])", name)
}

// keyOf joins a (possibly dotted) key and returns it with its line.
func keyOf(p *unstable.Parser, it unstable.Iterator) (string, int) {
	name, line := "", 0
	for it.Next() {
		n := it.Node()
		if line == 0 {
			line = p.Shape(n.Raw).Start.Line
		}
		if name != "" {
			name += "."
		}
		name += string(n.Data)
	}
	return name, line
}

func (c *configFile) addKeyValue(p *unstable.Parser, e *unstable.Node, cur *[]setting) error {
	key, line := keyOf(p, e.Key())
	s := setting{key: key, line: line}
	v := e.Value()
	if v.Kind == unstable.Array {
		s.list = true
		for it := v.Children(); it.Next(); {
			arg, err := flagArg(it.Node())
			if err != nil {
				return c.errorf(line, "%s: %v", key, err)
			}
			s.values = append(s.values, arg)
		}
	} else {
		arg, err := flagArg(v)
		if err != nil {
			return c.errorf(line, "%s: %v", key, err)
		}
		s.values = []string{arg}
	}
	*cur = append(*cur, s)
	return nil
}

// flagArg is a scalar value as a flag's argument.
func flagArg(n *unstable.Node) (string, error) {
	switch n.Kind {
	case unstable.String, unstable.Bool:
		return string(n.Data), nil
	case unstable.Integer:
		i, err := strconv.ParseInt(string(n.Data), 0, 64)
		if err != nil {
			return "", fmt.Errorf("integer %s: %w", n.Data, err)
		}
		return strconv.FormatInt(i, 10), nil
	}
	return "", fmt.Errorf("want a string, an integer or a boolean, not a %s (durations and sizes are strings: \"10m\", \"1GiB\")", kindName(n.Kind))
}

func kindName(k unstable.Kind) string {
	switch k {
	case unstable.Array:
		return "nested array"
	case unstable.InlineTable:
		return "table"
	case unstable.Float:
		return "float"
	}
	return "date or time"
}
