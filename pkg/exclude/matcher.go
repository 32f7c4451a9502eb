package exclude

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Bounds of a pattern list: it travels in the folder meta, which must
// stay well below the broker's message size whatever the patterns hold.
const (
	MaxPatterns   = 4096
	MaxPatternLen = 4096     // bytes of one pattern
	MaxTotalLen   = 32 << 10 // bytes of all patterns together
)

// Matcher decides which paths are excluded. The zero value and nil
// exclude only what Builtin names. A Matcher is safe for concurrent use.
type Matcher struct {
	patterns []string
	rules    []rule
}

// rule is one compiled pattern.
type rule struct {
	negate   bool
	dirOnly  bool
	anchored bool  // matched against the whole path, else the last name
	segs     []seg // one seg when not anchored
	minSegs  int   // components a path needs to match (globstars take none)
	globstar bool  // segs hold a globstar: the path may have more than minSegs
}

// Compile compiles patterns, in order. An error names the pattern.
func Compile(patterns []string) (*Matcher, error) {
	if len(patterns) > MaxPatterns {
		return nil, fmt.Errorf("compile exclude patterns: %d patterns, at most %d", len(patterns), MaxPatterns)
	}
	m := &Matcher{patterns: append([]string(nil), patterns...), rules: make([]rule, 0, len(patterns))}
	total := 0
	for _, p := range patterns {
		total += len(p)
		r, err := compileRule(p)
		if err != nil {
			return nil, fmt.Errorf("exclude pattern %q: %w", p, err)
		}
		m.rules = append(m.rules, r)
	}
	if total > MaxTotalLen {
		return nil, fmt.Errorf("compile exclude patterns: %d bytes of patterns, at most %d", total, MaxTotalLen)
	}
	return m, nil
}

// Check reports why one pattern cannot be compiled, or nil.
func Check(p string) error {
	if _, err := compileRule(p); err != nil {
		return fmt.Errorf("exclude pattern %q: %w", p, err)
	}
	return nil
}

func compileRule(p string) (rule, error) {
	var r rule
	switch {
	case len(p) > MaxPatternLen:
		return r, fmt.Errorf("%d bytes long, at most %d", len(p), MaxPatternLen)
	case !utf8.ValidString(p):
		return r, errNotUTF8
	}
	s := p
	if strings.HasPrefix(s, "!") {
		r.negate, s = true, s[1:]
	}
	if strings.HasSuffix(s, "/") {
		r.dirOnly, s = true, s[:len(s)-1]
	}
	r.anchored = strings.Contains(s, "/")
	s = strings.TrimPrefix(s, "/")
	if s == "" {
		return r, errEmpty
	}
	for part := range strings.SplitSeq(s, "/") {
		sg, err := compilePart(part, r.anchored)
		if err != nil {
			return r, err
		}
		r.add(sg)
	}
	r.finish()
	return r, nil
}

func compilePart(part string, anchored bool) (seg, error) {
	switch part {
	case "":
		return seg{}, errEmptyPart
	case ".", "..":
		return seg{}, errDotPart
	case "**":
		if !anchored {
			return seg{kind: segAny}, nil // a lone "**" is "*"
		}
	}
	return compileSeg(part)
}

// add appends a component; runs of globstars are one.
func (r *rule) add(sg seg) {
	if sg.kind == segGlobstar {
		if n := len(r.segs); n > 0 && r.segs[n-1].kind == segGlobstar {
			return
		}
		r.globstar = true
	} else {
		r.minSegs++
	}
	r.segs = append(r.segs, sg)
}

// finish makes a trailing globstar take at least one component ("a/**"
// is what is below a, not a) and turns "**/x" into the cheaper unanchored
// x.
func (r *rule) finish() {
	if n := len(r.segs); r.segs[n-1].kind == segGlobstar {
		r.segs = append(r.segs[:n-1], seg{kind: segAny}, seg{kind: segGlobstar})
		r.minSegs++
	}
	if len(r.segs) == 2 && r.segs[0].kind == segGlobstar && r.segs[1].kind != segGlobstar {
		r.segs, r.anchored, r.globstar = r.segs[1:], false, false
	}
}

// Patterns returns the patterns m was compiled from, in order.
func (m *Matcher) Patterns() []string {
	if m == nil {
		return nil
	}
	return append([]string(nil), m.patterns...)
}

// Match reports whether rel itself is excluded, isDir saying whether it
// is a directory: by Builtin or by the last pattern that matches it. Its
// ancestors are not looked at: a walk that skips excluded directories
// calls Match once per path it meets. See Excluded for a path on its own.
func (m *Matcher) Match(rel string, isDir bool) bool {
	if Builtin(rel) {
		return true
	}
	if m == nil || len(m.rules) == 0 {
		return false
	}
	base := rel[strings.LastIndexByte(rel, '/')+1:]
	depth := -1 // components of rel, counted once an anchored rule needs it
	for i := len(m.rules) - 1; i >= 0; i-- {
		r := &m.rules[i]
		if r.dirOnly && !isDir {
			continue
		}
		if !r.anchored {
			if r.segs[0].match(base) {
				return !r.negate
			}
			continue
		}
		if depth < 0 {
			depth = strings.Count(rel, "/") + 1
		}
		if depth == r.minSegs || depth > r.minSegs && r.globstar {
			if matchPath(r.segs, rel) {
				return !r.negate
			}
		}
	}
	return false
}

// Excluded reports whether rel is excluded by itself or because one of
// its ancestors, each a directory, is.
func (m *Matcher) Excluded(rel string, isDir bool) bool {
	for i := 0; i < len(rel); i++ {
		if rel[i] == '/' && m.Match(rel[:i], true) {
			return true
		}
	}
	return m.Match(rel, isDir)
}

// matchPath matches an anchored rule's components against the path's. A
// failed match goes back only to the last globstar, which then takes one
// more component.
func matchPath(segs []seg, rel string) bool {
	var buf [32]string
	parts := splitPath(buf[:0], rel)
	pi, si := 0, 0
	starP, starS := -1, 0
	for pi < len(segs) || si < len(parts) {
		if pi < len(segs) {
			if segs[pi].kind == segGlobstar {
				starP, starS = pi, si
				pi++
				continue
			}
			if si < len(parts) && segs[pi].match(parts[si]) {
				pi, si = pi+1, si+1
				continue
			}
		}
		if starP < 0 || starS >= len(parts) {
			return false
		}
		starS++
		pi, si = starP+1, starS
	}
	return true
}

func splitPath(dst []string, rel string) []string {
	for {
		i := strings.IndexByte(rel, '/')
		if i < 0 {
			return append(dst, rel)
		}
		dst = append(dst, rel[:i])
		rel = rel[i+1:]
	}
}
