// Package selector is the subscription selector language of the notifier: the
// SQL-92 subset Backendless clients send, such as
//
//	id = 'ch_1' AND type IN ('charge.succeeded', 'charge.refunded')
//
// It has =, <>, IN (…), NOT IN (…), AND, OR, NOT and parentheses over the
// fields id, type, event_id, object_type and livemode. Strings are single
// quoted, with a quote inside written as two:
//
//	id = 'O''Brien'
//
// livemode compares with TRUE, FALSE or the strings 'true' and 'false'.
// Keywords and field names are case-insensitive, values are not. id matches
// the event's object id or any of its related ids.
package selector

import "strings"

// Limits that keep a hostile selector cheap to parse and to evaluate.
const (
	MaxLength = 2048 // bytes of selector text
	MaxDepth  = 32   // nesting of parentheses and NOT
	MaxValues = 100  // values in one IN list
)

// Event is what a selector looks at.
type Event struct {
	IDs        []string // object id first, then related ids
	Type       string
	EventID    string
	ObjectType string
	Livemode   bool
}

// Field is a name a selector may compare.
type Field int

// The fields.
const (
	FieldID Field = iota
	FieldType
	FieldEventID
	FieldObjectType
	FieldLivemode
)

var fieldNames = [...]string{"id", "type", "event_id", "object_type", "livemode"}

func (f Field) String() string { return fieldNames[f] }

// Expr is a parsed selector.
type Expr interface {
	// Match reports whether ev satisfies the selector.
	Match(ev *Event) bool
	// String is the selector in canonical form; it parses back to an
	// equivalent Expr.
	String() string
}

// In is `field IN (values)`; `field = 'v'` is an In of one value, `<>` and
// NOT IN are a Not around it.
type In struct {
	Field  Field
	Values []string
}

// Not negates X.
type Not struct{ X Expr }

// And is true when both sides are.
type And struct{ L, R Expr }

// Or is true when either side is.
type Or struct{ L, R Expr }

// Match implements Expr.
func (e *In) Match(ev *Event) bool {
	switch e.Field {
	case FieldID:
		for _, id := range ev.IDs {
			if e.has(id) {
				return true
			}
		}
		return false
	case FieldType:
		return e.has(ev.Type)
	case FieldEventID:
		return e.has(ev.EventID)
	case FieldObjectType:
		return e.has(ev.ObjectType)
	case FieldLivemode:
		if ev.Livemode {
			return e.has("true")
		}
		return e.has("false")
	}
	return false
}

func (e *In) has(v string) bool {
	for _, x := range e.Values {
		if x == v {
			return true
		}
	}
	return false
}

// Match implements Expr.
func (e *Not) Match(ev *Event) bool { return !e.X.Match(ev) }

// Match implements Expr.
func (e *And) Match(ev *Event) bool { return e.L.Match(ev) && e.R.Match(ev) }

// Match implements Expr.
func (e *Or) Match(ev *Event) bool { return e.L.Match(ev) || e.R.Match(ev) }

func (e *In) String() string {
	var b strings.Builder
	b.WriteString(e.Field.String())
	if len(e.Values) == 1 {
		b.WriteString(" = ")
		b.WriteString(quote(e.Values[0]))
		return b.String()
	}
	b.WriteString(" IN (")
	for i, v := range e.Values {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quote(v))
	}
	b.WriteString(")")
	return b.String()
}

func (e *Not) String() string { return "NOT (" + e.X.String() + ")" }
func (e *And) String() string { return "(" + e.L.String() + " AND " + e.R.String() + ")" }
func (e *Or) String() string  { return "(" + e.L.String() + " OR " + e.R.String() + ")" }

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// PinnedIDs returns the ids an event must carry to match e, when e pins
// them: `id = …` or `id IN (…)`, possibly under AND, or OR of such. ok is false
// when some event without any of those ids could match, so the selector must
// be evaluated against every event.
func PinnedIDs(e Expr) (ids []string, ok bool) {
	switch e := e.(type) {
	case *In:
		if e.Field == FieldID {
			return e.Values, true
		}
	case *And:
		// Either side's ids are necessary; the smaller set is the cheaper index.
		l, lok := PinnedIDs(e.L)
		r, rok := PinnedIDs(e.R)
		switch {
		case lok && rok && len(r) < len(l):
			return r, true
		case lok:
			return l, true
		case rok:
			return r, true
		}
	case *Or:
		l, lok := PinnedIDs(e.L)
		r, rok := PinnedIDs(e.R)
		if lok && rok {
			return union(l, r), true
		}
	}
	return nil, false
}

func union(a, b []string) []string {
	out := append([]string(nil), a...)
	for _, v := range b {
		dup := false
		for _, x := range out {
			if x == v {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, v)
		}
	}
	return out
}

// Size is how much a parsed selector holds, for limits beyond the parser's:
// its nodes (conditions, AND, OR, NOT), its values across every IN list, and
// an estimate of the bytes its tree keeps alive.
type Size struct {
	Nodes, Values int
	Bytes         int64
}

// Per node and per value, what a tree keeps besides the values' bytes: the
// node's struct and interface, a string header.
const (
	nodeBytes  = 48
	valueBytes = 16
)

// SizeOf measures e.
func SizeOf(e Expr) Size {
	var s Size
	var walk func(Expr)
	walk = func(e Expr) {
		s.Nodes++
		s.Bytes += nodeBytes
		switch e := e.(type) {
		case *In:
			s.Values += len(e.Values)
			s.Bytes += int64(cap(e.Values) * valueBytes)
			for _, v := range e.Values {
				s.Bytes += int64(len(v))
			}
		case *Not:
			walk(e.X)
		case *And:
			walk(e.L)
			walk(e.R)
		case *Or:
			walk(e.L)
			walk(e.R)
		}
	}
	if e != nil {
		walk(e)
	}
	return s
}
