package stripeevent

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: Parse never panics; it accepts only JSON with an id, a type and
// a data.object with an id, and every refusal wraps ErrInvalid. The seeds are
// the project's real event shapes (tools/loadgen/fixtures), and the refusals of
// TestParseRejects. Run longer with
// go test -fuzz FuzzParse -fuzztime 1m ./pkg/stripeevent
func FuzzParse(f *testing.F) {
	for _, b := range fuzzSeeds(f) {
		f.Add(b)
	}
	for _, s := range []string{
		``, `nope`, `[1]`, `null`, `{}`, `{"id":"evt_1"}`,
		`{"id":"evt_1","type":"x","data":{"object":{"id":"ch_1"}}}`,
		`{"id":"evt_1","type":"x","data":{"object":{"id":{"id":"ch_1"}}}}`,
		`{"id":"evt_1","type":"x","data":{"object":{"id":"ch_1","customer":{"id":"cus_1"},"charge":"ch_1"}}} {}`,
		`{"id":"evt_1","type":"x","created":-1,"api_version":null,"data":{"object":{"id":"\u0063h_1"}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		env, err := Parse(body)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if !json.Valid(body) {
			t.Fatalf("Parse accepted a body that is not JSON: %q", body)
		}
		if env.ID == "" || env.Type == "" || env.ObjectID == "" {
			t.Fatalf("Parse accepted an event without id, type or object id: %+v", env)
		}
		for _, id := range env.RelatedIDs {
			if id == "" || id == env.ObjectID {
				t.Fatalf("related ids %q hold an empty id or the object id %q", env.RelatedIDs, env.ObjectID)
			}
		}
	})
}

// fuzzSeeds are the project's real event shapes (tools/loadgen's fixtures,
// read as files: loadgen imports this package).
func fuzzSeeds(f *testing.F) [][]byte {
	paths, _ := filepath.Glob("../../tools/loadgen/fixtures/*.json")
	if len(paths) == 0 {
		f.Fatal("no event shapes in tools/loadgen/fixtures")
	}
	var seeds [][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	return seeds
}
