package selector

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

var charge = &Event{
	IDs:        []string{"ch_1", "pi_1", "cus_1"},
	Type:       "charge.succeeded",
	EventID:    "evt_1",
	ObjectType: "charge",
	Livemode:   false,
}

func TestMatch(t *testing.T) {
	tests := []struct {
		sel  string
		want bool
	}{
		{"id = 'ch_1'", true},
		{"id = 'pi_1'", true}, // a related id
		{"id = 'ch_2'", false},
		{"ID='ch_1'", true},
		{"id <> 'ch_1'", false},
		{"id <> 'ch_2'", true},
		{"id IN ('ch_9', 'cus_1')", true},
		{"id in ('ch_9')", false},
		{"id NOT IN ('ch_9')", true},
		{"id not in ('ch_1', 'x')", false},
		{"type = 'charge.succeeded' AND id = 'ch_1'", true},
		{"type = 'charge.refunded' AND id = 'ch_1'", false},
		{"type = 'charge.refunded' OR id = 'ch_1'", true},
		{"NOT type = 'charge.refunded'", true},
		{"NOT (type = 'charge.succeeded' OR id = 'x')", false},
		{"event_id = 'evt_1' and object_type = 'charge'", true},
		{"livemode = FALSE", true},
		{"livemode = true", false},
		{"livemode = 'false'", true},
		{"livemode <> TRUE", true},
		{"id = 'a' OR id = 'b' AND type = 'x'", false}, // AND binds tighter
		{"(id = 'a' OR id = 'ch_1') AND type = 'charge.succeeded'", true},
		{"NOT NOT id = 'ch_1'", true},
		{"  ( ( id = 'ch_1' ) )  ", true},
	}
	for _, tt := range tests {
		e, err := Parse(tt.sel)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.sel, err)
			continue
		}
		if got := e.Match(charge); got != tt.want {
			t.Errorf("%q (parsed as %s) matches = %v, want %v", tt.sel, e, got, tt.want)
		}
	}
}

func TestQuoteEscaping(t *testing.T) {
	e, err := Parse("id = 'O''Brien''s'")
	if err != nil {
		t.Fatal(err)
	}
	if !e.Match(&Event{IDs: []string{"O'Brien's"}}) {
		t.Fatalf("%s does not match O'Brien's", e)
	}
	if got, want := e.String(), "id = 'O''Brien''s'"; got != want {
		t.Fatalf("String() = %s, want %s", got, want)
	}
	if e, err := Parse("id = ''"); err != nil || !e.Match(&Event{IDs: []string{""}}) {
		t.Fatalf("empty string: %v %v", e, err)
	}
}

func TestErrorsNamePositionAndProblem(t *testing.T) {
	tests := []struct {
		sel     string
		pos     int
		problem string
	}{
		{"", 1, "empty"},
		{"   ", 1, "empty"},
		{"id = ", 6, "expected a single-quoted string"},
		{"id = 'abc", 6, "string not closed"},
		{"id = \"abc\"", 6, "single-quoted"},
		{"amount = '1'", 1, "unknown field \"amount\""},
		{"id == 'a'", 5, "expected a single-quoted string"},
		{"id != 'a'", 4, "use <>"},
		{"id = 'a' AND", 13, "expected a field"},
		{"id = 'a' 'b'", 10, "unexpected string 'b'"},
		{"(id = 'a'", 10, "expected ) to close the ( at position 1"},
		{"id IN 'a'", 7, "expected ( after IN"},
		{"id IN ('a' 'b')", 12, "expected , or )"},
		{"id IN ()", 8, "expected a single-quoted string"},
		{"id NOT 'a'", 8, "expected IN"},
		{"id > 'a'", 4, "unexpected character '>'"},
		{"livemode = 'yes'", 12, "livemode is TRUE or FALSE"},
		{"type = TRUE", 8, "quoted string"},
		{"AND id = 'a'", 1, "expected a field"},
		{"id", 3, "expected =, <> or IN"},
		{strings.Repeat("(", 40) + "id = 'a'" + strings.Repeat(")", 40), 33, "nested deeper"},
		{strings.Repeat("x", MaxLength+1), MaxLength + 1, "longer than"},
		{"id IN (" + strings.Repeat("'a',", MaxValues) + "'b')", 7 + 4*MaxValues + 1, "more than"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.sel)
		var se *Error
		if !errors.As(err, &se) {
			t.Errorf("Parse(%.40q) error = %v, want a *selector.Error", tt.sel, err)
			continue
		}
		if se.Pos != tt.pos || !strings.Contains(se.Msg, tt.problem) {
			t.Errorf("Parse(%.40q) = position %d %q, want position %d containing %q", tt.sel, se.Pos, se.Msg, tt.pos, tt.problem)
		}
		if !strings.Contains(err.Error(), "position") {
			t.Errorf("error text %q does not say the position", err)
		}
	}
}

func TestPinnedIDs(t *testing.T) {
	tests := []struct {
		sel  string
		ids  []string
		pins bool
	}{
		{"id = 'a'", []string{"a"}, true},
		{"id IN ('a', 'b')", []string{"a", "b"}, true},
		{"id = 'a' AND type = 'x'", []string{"a"}, true},
		{"type = 'x' AND id = 'a'", []string{"a"}, true},
		{"id IN ('a','b','c') AND id = 'b'", []string{"b"}, true},
		{"id = 'a' OR id = 'b'", []string{"a", "b"}, true},
		{"id = 'a' OR id = 'a'", []string{"a"}, true},
		{"id = 'a' OR type = 'x'", nil, false},
		{"type = 'x'", nil, false},
		{"id <> 'a'", nil, false},
		{"NOT id IN ('a')", nil, false},
		{"id NOT IN ('a')", nil, false},
	}
	for _, tt := range tests {
		e, err := Parse(tt.sel)
		if err != nil {
			t.Fatal(err)
		}
		ids, ok := PinnedIDs(e)
		if ok != tt.pins || !slices.Equal(ids, tt.ids) {
			t.Errorf("PinnedIDs(%s) = %v %v, want %v %v", tt.sel, ids, ok, tt.ids, tt.pins)
		}
	}
}

// FuzzParse: no input makes Parse panic; what parses prints back to a
// selector that parses to the same canonical form and matches the same
// events; a pinned selector never matches an event without its ids.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"id = 'ch_1'", "id IN ('a', 'b''c')", "NOT (type = 'x' OR livemode = TRUE)",
		"id = 'a' AND type <> 'b'", "event_id NOT IN ('e') OR object_type = 'charge'",
		"((id = 'x'))", "id = 'unterminated", "", "(((", "id IN (", "livemode = 'true'",
	} {
		f.Add(s)
	}
	events := []*Event{
		charge,
		{IDs: []string{"a"}, Type: "x", Livemode: true},
		{IDs: []string{"b'c", "e"}, Type: "b", EventID: "e", ObjectType: "charge"},
		{},
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := Parse(s)
		if err != nil {
			var se *Error
			if !errors.As(err, &se) || se.Pos < 1 || se.Pos > len(s)+1 {
				t.Fatalf("Parse(%q) error %v: want a *Error inside the text", s, err)
			}
			return
		}
		again, err := Parse(e.String())
		if err != nil {
			// Canonical form adds parentheses; it may exceed the depth limit
			// only if the input was near it.
			var se *Error
			if errors.As(err, &se) && strings.Contains(se.Msg, "nested") {
				return
			}
			t.Fatalf("canonical form %q of %q does not parse: %v", e.String(), s, err)
		}
		if again.String() != e.String() {
			t.Fatalf("canonical form not stable: %q -> %q", e.String(), again.String())
		}
		ids, pinned := PinnedIDs(e)
		for _, ev := range events {
			if e.Match(ev) != again.Match(ev) {
				t.Fatalf("%q and its canonical form %q disagree on %+v", s, e.String(), ev)
			}
			if pinned && e.Match(ev) && !slices.ContainsFunc(ids, func(id string) bool { return slices.Contains(ev.IDs, id) }) {
				t.Fatalf("%q pins %v but matches %+v", s, ids, ev)
			}
		}
	})
}

func TestSizeOf(t *testing.T) {
	for sel, want := range map[string]Size{
		"id = 'ch_1'": {Nodes: 1, Values: 1},
		"id = 'ch_1' AND (type IN ('a', 'b', 'c') OR NOT livemode = TRUE)": {Nodes: 6, Values: 5},
	} {
		e, err := Parse(sel)
		if err != nil {
			t.Fatal(err)
		}
		got := SizeOf(e)
		if got.Nodes != want.Nodes || got.Values != want.Values || got.Bytes < int64(got.Nodes*nodeBytes) {
			t.Errorf("SizeOf(%s) = %+v, want %d nodes and %d values", sel, got, want.Nodes, want.Values)
		}
	}
}
