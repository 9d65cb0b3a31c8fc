package selector

import (
	"fmt"
	"strings"
)

// Error is a selector that does not parse: Pos is the 1-based byte position
// of the problem in the selector text.
type Error struct {
	Pos int
	Msg string
}

func (e *Error) Error() string { return fmt.Sprintf("selector: position %d: %s", e.Pos, e.Msg) }

// Parse reads a selector.
func Parse(s string) (Expr, error) {
	if len(s) > MaxLength {
		return nil, &Error{MaxLength + 1, fmt.Sprintf("selector longer than %d bytes", MaxLength)}
	}
	p := &parser{lex: lexer{src: s}}
	if err := p.next(); err != nil {
		return nil, err
	}
	if p.tok.kind == tokEOF {
		return nil, &Error{1, "empty selector"}
	}
	e, err := p.or(0)
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tokEOF {
		return nil, p.errorf("unexpected %s after a complete condition", p.tok)
	}
	return e, nil
}

type tokKind int

const (
	tokEOF tokKind = iota
	tokIdent
	tokString
	tokLParen
	tokRParen
	tokComma
	tokEq
	tokNe
)

type token struct {
	kind tokKind
	text string // identifier as written, or the string's value
	pos  int    // 1-based
}

func (t token) String() string {
	switch t.kind {
	case tokEOF:
		return "end of selector"
	case tokString:
		return "string " + quote(t.text)
	case tokIdent:
		return fmt.Sprintf("%q", t.text)
	}
	return fmt.Sprintf("%q", t.text)
}

func (t token) is(keyword string) bool {
	return t.kind == tokIdent && strings.EqualFold(t.text, keyword)
}

type lexer struct {
	src string
	off int
}

func (l *lexer) next() (token, error) {
	for l.off < len(l.src) && isSpace(l.src[l.off]) {
		l.off++
	}
	start := l.off
	pos := start + 1
	if l.off >= len(l.src) {
		return token{kind: tokEOF, pos: pos}, nil
	}
	c := l.src[l.off]
	switch {
	case c == '(':
		l.off++
		return token{tokLParen, "(", pos}, nil
	case c == ')':
		l.off++
		return token{tokRParen, ")", pos}, nil
	case c == ',':
		l.off++
		return token{tokComma, ",", pos}, nil
	case c == '=':
		l.off++
		return token{tokEq, "=", pos}, nil
	case c == '<' && strings.HasPrefix(l.src[l.off:], "<>"):
		l.off += 2
		return token{tokNe, "<>", pos}, nil
	case c == '!' && strings.HasPrefix(l.src[l.off:], "!="):
		return token{}, &Error{pos, "use <> for not equal"}
	case c == '\'':
		var b strings.Builder
		l.off++
		for {
			i := strings.IndexByte(l.src[l.off:], '\'')
			if i < 0 {
				return token{}, &Error{pos, "string not closed: a quote inside a string is written ''"}
			}
			b.WriteString(l.src[l.off : l.off+i])
			l.off += i + 1
			if l.off < len(l.src) && l.src[l.off] == '\'' {
				b.WriteByte('\'')
				l.off++
				continue
			}
			return token{tokString, b.String(), pos}, nil
		}
	case c == '"':
		return token{}, &Error{pos, "strings are single-quoted ('…'), not double-quoted"}
	case isIdentStart(c):
		for l.off < len(l.src) && isIdentPart(l.src[l.off]) {
			l.off++
		}
		return token{tokIdent, l.src[start:l.off], pos}, nil
	}
	return token{}, &Error{pos, fmt.Sprintf("unexpected character %q", rune(c))}
}

func isSpace(c byte) bool      { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
func isIdentStart(c byte) bool { return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isIdentPart(c byte) bool  { return isIdentStart(c) || '0' <= c && c <= '9' }

type parser struct {
	lex lexer
	tok token
}

func (p *parser) next() error {
	t, err := p.lex.next()
	p.tok = t
	return err
}

func (p *parser) errorf(format string, args ...any) error {
	return &Error{p.tok.pos, fmt.Sprintf(format, args...)}
}

func (p *parser) or(depth int) (Expr, error) {
	l, err := p.and(depth)
	if err != nil {
		return nil, err
	}
	for p.tok.is("OR") {
		if err := p.next(); err != nil {
			return nil, err
		}
		r, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		l = &Or{l, r}
	}
	return l, nil
}

func (p *parser) and(depth int) (Expr, error) {
	l, err := p.not(depth)
	if err != nil {
		return nil, err
	}
	for p.tok.is("AND") {
		if err := p.next(); err != nil {
			return nil, err
		}
		r, err := p.not(depth)
		if err != nil {
			return nil, err
		}
		l = &And{l, r}
	}
	return l, nil
}

func (p *parser) not(depth int) (Expr, error) {
	if depth >= MaxDepth {
		return nil, p.errorf("nested deeper than %d levels", MaxDepth)
	}
	if p.tok.is("NOT") {
		if err := p.next(); err != nil {
			return nil, err
		}
		x, err := p.not(depth + 1)
		if err != nil {
			return nil, err
		}
		return &Not{x}, nil
	}
	if p.tok.kind == tokLParen {
		open := p.tok.pos
		if err := p.next(); err != nil {
			return nil, err
		}
		x, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if p.tok.kind != tokRParen {
			return nil, p.errorf("expected ) to close the ( at position %d, found %s", open, p.tok)
		}
		return x, p.next()
	}
	return p.comparison()
}

func (p *parser) comparison() (Expr, error) {
	if p.tok.kind != tokIdent || isKeyword(p.tok.text) {
		return nil, p.errorf("expected a field (%s), found %s", strings.Join(fieldNames[:], ", "), p.tok)
	}
	field, ok := lookupField(p.tok.text)
	if !ok {
		return nil, p.errorf("unknown field %q: fields are %s", p.tok.text, strings.Join(fieldNames[:], ", "))
	}
	if err := p.next(); err != nil {
		return nil, err
	}
	switch {
	case p.tok.kind == tokEq || p.tok.kind == tokNe:
		neg := p.tok.kind == tokNe
		if err := p.next(); err != nil {
			return nil, err
		}
		v, err := p.value(field)
		if err != nil {
			return nil, err
		}
		var e Expr = &In{field, []string{v}}
		if neg {
			e = &Not{e}
		}
		return e, nil
	case p.tok.is("IN"), p.tok.is("NOT"):
		neg := p.tok.is("NOT")
		if neg {
			if err := p.next(); err != nil {
				return nil, err
			}
			if !p.tok.is("IN") {
				return nil, p.errorf("expected IN after %s NOT, found %s", field, p.tok)
			}
		}
		if err := p.next(); err != nil {
			return nil, err
		}
		values, err := p.list(field)
		if err != nil {
			return nil, err
		}
		var e Expr = &In{field, values}
		if neg {
			e = &Not{e}
		}
		return e, nil
	}
	return nil, p.errorf("expected =, <> or IN after %s, found %s", field, p.tok)
}

func (p *parser) list(field Field) ([]string, error) {
	if p.tok.kind != tokLParen {
		return nil, p.errorf("expected ( after IN, found %s", p.tok)
	}
	var values []string
	for {
		if err := p.next(); err != nil {
			return nil, err
		}
		if len(values) == MaxValues {
			return nil, p.errorf("more than %d values in one IN list", MaxValues)
		}
		v, err := p.value(field)
		if err != nil {
			return nil, err
		}
		values = append(values, v)
		switch p.tok.kind {
		case tokComma:
			continue
		case tokRParen:
			return values, p.next()
		}
		return nil, p.errorf("expected , or ) in the IN list, found %s", p.tok)
	}
}

func (p *parser) value(field Field) (string, error) {
	t := p.tok
	switch {
	case t.kind == tokString && field == FieldLivemode && t.text != "true" && t.text != "false":
		return "", p.errorf("livemode is TRUE or FALSE, not %s", t)
	case t.kind == tokString:
		return t.text, p.next()
	case field == FieldLivemode && (t.is("TRUE") || t.is("FALSE")):
		return strings.ToLower(t.text), p.next()
	case t.is("TRUE") || t.is("FALSE"):
		return "", p.errorf("%s compares with a quoted string, not %s", field, t.text)
	}
	return "", p.errorf("expected a single-quoted string after %s, found %s", field, t)
}

func lookupField(name string) (Field, bool) {
	for i, n := range fieldNames {
		if strings.EqualFold(n, name) {
			return Field(i), true
		}
	}
	return 0, false
}

func isKeyword(s string) bool {
	for _, k := range []string{"AND", "OR", "NOT", "IN", "TRUE", "FALSE"} {
		if strings.EqualFold(s, k) {
			return true
		}
	}
	return false
}
