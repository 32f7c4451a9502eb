package exclude

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// Errors of a pattern that cannot be compiled.
var (
	errEmpty        = errors.New("empty pattern")
	errEmptyPart    = errors.New("empty path component")
	errDotPart      = errors.New(`"." and ".." components never match a path`)
	errUnterminated = errors.New(`unterminated "["`)
	errBackslash    = errors.New(`"\" at the end of a component escapes nothing`)
	errRange        = errors.New("character range out of order")
	errNotUTF8      = errors.New("not valid UTF-8")
)

// segKind says how a compiled path component matches a name; the common
// forms skip the general glob.
type segKind uint8

const (
	segLiteral  segKind = iota // name == lit
	segPrefix                  // lit*
	segSuffix                  // *lit
	segAny                     // *: any name
	segGlob                    // anything else, by toks
	segGlobstar                // **: any number of components (anchored patterns only)
)

// seg is one compiled component of a pattern.
type seg struct {
	kind segKind
	lit  string
	toks []tok
}

type tokKind uint8

const (
	tokLit   tokKind = iota // lit
	tokOne                  // ?
	tokStar                 // *
	tokClass                // [...]
)

type tok struct {
	kind  tokKind
	lit   string
	class *class
}

// class is a compiled [...]: a set of rune ranges, possibly negated.
type class struct {
	neg    bool
	ranges []runeRange
}

type runeRange struct{ lo, hi rune }

func (c *class) has(r rune) bool {
	in := false
	for _, rg := range c.ranges {
		if rg.lo <= r && r <= rg.hi {
			in = true
			break
		}
	}
	return in != c.neg
}

// compileSeg compiles one component (no "/" in it).
func compileSeg(p string) (seg, error) {
	if p == "**" {
		return seg{kind: segGlobstar}, nil
	}
	toks, err := tokenize(p)
	if err != nil {
		return seg{}, err
	}
	return simplify(toks), nil
}

// simplify picks the cheapest way to match toks.
func simplify(toks []tok) seg {
	switch {
	case len(toks) == 0:
		return seg{kind: segLiteral}
	case len(toks) == 1 && toks[0].kind == tokLit:
		return seg{kind: segLiteral, lit: toks[0].lit}
	case len(toks) == 1 && toks[0].kind == tokStar:
		return seg{kind: segAny}
	case len(toks) == 2 && toks[0].kind == tokStar && toks[1].kind == tokLit:
		return seg{kind: segSuffix, lit: toks[1].lit}
	case len(toks) == 2 && toks[0].kind == tokLit && toks[1].kind == tokStar:
		return seg{kind: segPrefix, lit: toks[0].lit}
	}
	return seg{kind: segGlob, toks: toks}
}

// tokenize splits a component into literals, wildcards and sets; runs of
// "*" are one star.
func tokenize(p string) ([]tok, error) {
	var toks []tok
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			toks = append(toks, tok{kind: tokLit, lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(p); {
		switch c := p[i]; c {
		case '\\':
			if i+1 >= len(p) {
				return nil, errBackslash
			}
			_, n := utf8.DecodeRuneInString(p[i+1:])
			lit.WriteString(p[i+1 : i+1+n])
			i += 1 + n
		case '*':
			flush()
			if len(toks) == 0 || toks[len(toks)-1].kind != tokStar {
				toks = append(toks, tok{kind: tokStar})
			}
			i++
		case '?':
			flush()
			toks = append(toks, tok{kind: tokOne})
			i++
		case '[':
			flush()
			cl, n, err := parseClass(p[i+1:])
			if err != nil {
				return nil, err
			}
			toks = append(toks, tok{kind: tokClass, class: cl})
			i += 1 + n
		default:
			lit.WriteByte(c)
			i++
		}
	}
	flush()
	return toks, nil
}

// parseClass parses what follows a "[" and returns the set and the bytes
// it took, the closing "]" included. A "]" right after "[" (or "[!",
// "[^") is a member, not the end.
func parseClass(p string) (*class, int, error) {
	cl := &class{}
	i := 0
	if i < len(p) && (p[i] == '!' || p[i] == '^') {
		cl.neg = true
		i++
	}
	for first := true; ; first = false {
		if i >= len(p) {
			return nil, 0, errUnterminated
		}
		if p[i] == ']' && !first {
			return cl, i + 1, nil
		}
		lo, n, err := classRune(p[i:])
		if err != nil {
			return nil, 0, err
		}
		i += n
		hi := lo
		if i+1 < len(p) && p[i] == '-' && p[i+1] != ']' {
			if hi, n, err = classRune(p[i+1:]); err != nil {
				return nil, 0, err
			}
			i += 1 + n
			if hi < lo {
				return nil, 0, errRange
			}
		}
		cl.ranges = append(cl.ranges, runeRange{lo, hi})
	}
}

// classRune reads one member character of a set, "\" escaping the next.
func classRune(p string) (rune, int, error) {
	if p[0] != '\\' {
		r, n := utf8.DecodeRuneInString(p)
		return r, n, nil
	}
	if len(p) < 2 {
		return 0, 0, errUnterminated
	}
	r, n := utf8.DecodeRuneInString(p[1:])
	return r, 1 + n, nil
}

// match reports whether the component matches one name.
func (s *seg) match(name string) bool {
	switch s.kind {
	case segLiteral:
		return name == s.lit
	case segPrefix:
		return strings.HasPrefix(name, s.lit)
	case segSuffix:
		return strings.HasSuffix(name, s.lit)
	case segAny:
		return true
	}
	return matchToks(s.toks, name)
}

// matchToks matches a name against a glob. A failed match goes back only
// to the last star, moving what it takes one character further: the
// classic linear-space wildcard match, O(len(toks) × len(name)) at worst.
func matchToks(toks []tok, s string) bool {
	ti, si := 0, 0
	starT, starS := -1, 0
	for {
		if ti < len(toks) {
			if t := &toks[ti]; t.kind == tokStar {
				starT, starS = ti, si
				ti++
				continue
			} else if n := t.take(s[si:]); n > 0 {
				ti, si = ti+1, si+n
				continue
			}
		} else if si == len(s) {
			return true
		}
		if starT < 0 || starS >= len(s) {
			return false
		}
		_, n := utf8.DecodeRuneInString(s[starS:])
		starS += n
		ti, si = starT+1, starS
	}
}

// take returns how many bytes at the start of s the token matches, or 0.
func (t *tok) take(s string) int {
	switch t.kind {
	case tokLit:
		if strings.HasPrefix(s, t.lit) {
			return len(t.lit)
		}
	case tokOne:
		if s != "" {
			_, n := utf8.DecodeRuneInString(s)
			return n
		}
	case tokClass:
		if s != "" {
			r, n := utf8.DecodeRuneInString(s)
			if t.class.has(r) {
				return n
			}
		}
	}
	return 0
}
