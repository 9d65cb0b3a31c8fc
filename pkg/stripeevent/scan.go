package stripeevent

import (
	"encoding/json"
	"errors"
	"strconv"
	"unicode/utf8"
)

// scanner validates a JSON text in one pass, as strictly as encoding/json
// (RFC 8259 grammar, nesting up to 10,000), and hands Parse the spans of the
// few members it reads. Decoding the whole event with encoding/json cost
// ingest most of its CPU per request: it validates the body once, then scans
// it again to decode (docs/webhook-ingest.md).
type scanner struct {
	data  []byte
	pos   int
	depth int    // objects open in object
	stack []byte // open containers while skipping: '{' or '['
}

// maxDepth is encoding/json's nesting limit.
const maxDepth = 10000

// syntaxError says what is wrong and where, like encoding/json's.
type syntaxError struct {
	msg    string
	offset int
}

func (e *syntaxError) Error() string { return e.msg + " at offset " + strconv.Itoa(e.offset) }

func (s *scanner) fail(msg string) error { return &syntaxError{msg, s.pos} }

func (s *scanner) unexpected(context string) error {
	if s.pos >= len(s.data) {
		return s.fail("unexpected end of JSON input " + context)
	}
	return s.fail("invalid character " + strconv.QuoteRune(rune(s.data[s.pos])) + " " + context)
}

func (s *scanner) ws() {
	d, i := s.data, s.pos
	for i < len(d) && wsByte[d[i]] {
		i++
	}
	s.pos = i
}

// wsByte marks JSON's white space.
var wsByte = [256]bool{' ': true, '\t': true, '\n': true, '\r': true}

// peek is the next byte after white space, or 0 at the end.
func (s *scanner) peek() byte {
	s.ws()
	if s.pos < len(s.data) {
		return s.data[s.pos]
	}
	return 0
}

// end checks that only white space follows the value.
func (s *scanner) end() error {
	if s.peek() != 0 || s.pos < len(s.data) {
		return s.unexpected("after top-level value")
	}
	return nil
}

// object reads an object whose '{' is next, calling member for each key with
// the scanner before the member's value; member must consume the value.
func (s *scanner) object(member func(key []byte) error) error {
	if s.depth == maxDepth {
		return s.fail("exceeded max depth")
	}
	s.pos++ // '{'
	if s.peek() == '}' {
		s.pos++
		return nil
	}
	s.depth++
	defer func() { s.depth-- }()
	for {
		if s.peek() != '"' {
			return s.unexpected("looking for beginning of object key string")
		}
		key, err := s.key()
		if err != nil {
			return err
		}
		if s.peek() != ':' {
			return s.unexpected("after object key")
		}
		s.pos++
		if err := member(key); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return nil
		default:
			return s.unexpected("after object key:value pair")
		}
	}
}

// key reads a member name, unescaped (`"\u0069d"` is `id`, as encoding/json has it).
func (s *scanner) key() ([]byte, error) {
	start := s.pos
	plain, err := s.str()
	if err != nil {
		return nil, err
	}
	raw := s.data[start:s.pos]
	if plain {
		return raw[1 : len(raw)-1], nil
	}
	var k string
	if err := json.Unmarshal(raw, &k); err != nil {
		return nil, err
	}
	return []byte(k), nil
}

// strSafe marks the bytes a string may hold as they are.
var strSafe = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// str reads a string whose '"' is next. plain reports that its bytes are its
// value: no escape, and valid UTF-8.
func (s *scanner) str() (plain bool, err error) {
	s.pos++ // '"'
	start := s.pos
	ascii, escaped := true, false
	for {
		d, i, high := s.data, s.pos, byte(0)
		for i < len(d) && strSafe[d[i]] {
			high |= d[i]
			i++
		}
		s.pos = i
		ascii = ascii && high < utf8.RuneSelf
		if s.pos >= len(s.data) {
			return false, s.unexpected("in string literal")
		}
		switch c := s.data[s.pos]; c {
		case '"':
			s.pos++
			return !escaped && (ascii || utf8.Valid(s.data[start:s.pos-1])), nil
		case '\\':
			escaped = true
			s.pos++
			if s.pos >= len(s.data) {
				return false, s.unexpected("in string escape code")
			}
			switch s.data[s.pos] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.pos++
			case 'u':
				s.pos++
				for range 4 {
					if s.pos >= len(s.data) || !isHex(s.data[s.pos]) {
						return false, s.unexpected("in \\u hexadecimal character escape")
					}
					s.pos++
				}
			default:
				return false, s.unexpected("in string escape code")
			}
		default: // a control character
			return false, s.unexpected("in string literal")
		}
	}
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// number reads -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() error {
	if s.data[s.pos] == '-' {
		s.pos++
	}
	digits := func(context string) error {
		if s.pos >= len(s.data) || !isDigit(s.data[s.pos]) {
			return s.unexpected(context)
		}
		for s.pos < len(s.data) && isDigit(s.data[s.pos]) {
			s.pos++
		}
		return nil
	}
	switch {
	case s.pos < len(s.data) && s.data[s.pos] == '0':
		s.pos++
	default:
		if err := digits("in numeric literal"); err != nil {
			return err
		}
	}
	if s.pos < len(s.data) && s.data[s.pos] == '.' {
		s.pos++
		if err := digits("after decimal point in numeric literal"); err != nil {
			return err
		}
	}
	if s.pos < len(s.data) && (s.data[s.pos] == 'e' || s.data[s.pos] == 'E') {
		s.pos++
		if s.pos < len(s.data) && (s.data[s.pos] == '+' || s.data[s.pos] == '-') {
			s.pos++
		}
		if err := digits("in exponent of numeric literal"); err != nil {
			return err
		}
	}
	return nil
}

func (s *scanner) literal(word string) error {
	for i := range len(word) {
		if s.pos >= len(s.data) || s.data[s.pos] != word[i] {
			return s.unexpected("in literal " + word)
		}
		s.pos++
	}
	return nil
}

// scalar reads a string, number or literal whose first byte is next.
func (s *scanner) scalar() error {
	switch c := s.data[s.pos]; {
	case c == '"':
		_, err := s.str()
		return err
	case c == '-' || isDigit(c):
		return s.number()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	}
	return s.unexpected("looking for beginning of value")
}

// value reads any value, returning its span. Containers are walked without
// recursion: a deep body costs a byte of stack per level, not a call frame.
func (s *scanner) value() ([]byte, error) {
	if s.peek() == 0 {
		return nil, s.unexpected("looking for beginning of value")
	}
	start := s.pos
	s.stack = s.stack[:0]
	for {
		// A value begins here.
		switch c := s.peek(); c {
		case '{', '[':
			if s.depth+len(s.stack) == maxDepth {
				return nil, s.fail("exceeded max depth")
			}
			s.pos++
			closer := byte('}')
			if c == '[' {
				closer = ']'
			}
			if s.peek() == closer {
				s.pos++
				break
			}
			s.stack = append(s.stack, c)
			if c == '{' {
				if err := s.memberKey(); err != nil {
					return nil, err
				}
			}
			continue
		case 0:
			return nil, s.unexpected("looking for beginning of value")
		default:
			if err := s.scalar(); err != nil {
				return nil, err
			}
		}
		// After a value: close containers, or go on to the next element.
		for {
			if len(s.stack) == 0 {
				return s.data[start:s.pos], nil
			}
			top := s.stack[len(s.stack)-1]
			c := s.peek()
			if c == ',' {
				s.pos++
				if top == '{' {
					if err := s.memberKey(); err != nil {
						return nil, err
					}
				}
				break
			}
			if top == '{' && c == '}' || top == '[' && c == ']' {
				s.pos++
				s.stack = s.stack[:len(s.stack)-1]
				continue
			}
			if top == '{' {
				return nil, s.unexpected("after object key:value pair")
			}
			return nil, s.unexpected("after array element")
		}
	}
}

// memberKey reads `"key":` inside an object being skipped.
func (s *scanner) memberKey() error {
	if s.peek() != '"' {
		return s.unexpected("looking for beginning of object key string")
	}
	if _, err := s.str(); err != nil {
		return err
	}
	if s.peek() != ':' {
		return s.unexpected("after object key")
	}
	s.pos++
	return nil
}

// errType is a member of the wrong JSON type.
var errType = errors.New("wrong type")

// stringValue reads a string or null member ("" for null).
func (s *scanner) stringValue() (v string, isNull bool, err error) {
	switch s.peek() {
	case 'n':
		return "", true, s.literal("null")
	case '"':
		start := s.pos
		plain, err := s.str()
		if err != nil {
			return "", false, err
		}
		raw := s.data[start:s.pos]
		if plain {
			return string(raw[1 : len(raw)-1]), false, nil
		}
		err = json.Unmarshal(raw, &v) // escapes, and invalid UTF-8 made U+FFFD
		return v, false, err
	}
	return "", false, s.typeError()
}

// typeError skips a value of the wrong type and says so; a syntax error in it wins.
func (s *scanner) typeError() error {
	if _, err := s.value(); err != nil {
		return err
	}
	return errType
}
