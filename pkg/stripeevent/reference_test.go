package stripeevent

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// readReference is read written with encoding/json: maps of raw members
// (exact names, the last of a repeated member wins), each member decoded into
// its Go type. FuzzReadMatchesEncodingJSON holds the scanner to it.
func readReference(body []byte) (wireEvent, error) {
	var w wireEvent
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return w, err
	}
	if top == nil {
		return w, errors.New("null")
	}
	decode := func(raw json.RawMessage, v any) error {
		if raw == nil || bytes.Equal(raw, []byte("null")) {
			return nil
		}
		return json.Unmarshal(raw, v)
	}
	var apiVersion string
	var data map[string]json.RawMessage
	err := errors.Join(
		decode(top["id"], &w.ID), decode(top["type"], &w.Type), decode(top["account"], &w.Account),
		decode(top["api_version"], &apiVersion), decode(top["created"], &w.Created),
		decode(top["livemode"], &w.Livemode), decode(top["data"], &data))
	if err != nil {
		return w, err
	}
	if raw, ok := top["api_version"]; ok && !bytes.Equal(raw, []byte("null")) {
		w.APIVersion = &apiVersion
	}
	var object map[string]json.RawMessage
	if err := decode(data["object"], &object); err != nil {
		return w, err
	}
	if object != nil {
		w.Object = &wireObject{}
		for k, raw := range object {
			if dst := w.Object.member([]byte(k)); dst != nil {
				*dst = raw
			}
		}
	}
	return w, nil
}

func parseReference(body []byte) (Envelope, error) {
	w, err := readReference(body)
	if err != nil {
		return Envelope{}, err
	}
	return w.envelope()
}

// FuzzReadMatchesEncodingJSON: the one-pass scanner accepts exactly what
// encoding/json accepts and reads the same envelope from it. Run longer with
// go test -fuzz FuzzReadMatchesEncodingJSON -fuzztime 1m ./pkg/stripeevent
func FuzzReadMatchesEncodingJSON(f *testing.F) {
	for _, b := range fuzzSeeds(f) {
		f.Add(b)
	}
	for _, s := range []string{
		`{"id":"evt_1","type":"x","data":{"object":{"id":"ch_1"}},"id":"evt_2"}`,
		`{"id":"evt_1","type":"x","data":{"object":{"id":"ch_1"}},"data":null}`,
		`{"id":"evt_1","type":"x","data":{"object":{"id":"ch_1"},"object":{"id":"ch_2"}}}`,
		`{"\u0069d":"evt_1","type":"t\u00e9","data":{"object":{"id":"ch_\ud83d\ude00","object":"\ud800"}}}`,
		"{\"id\":\"evt_\xff\",\"type\":\"x\",\"data\":{\"object\":{\"id\":\"ch_1\"}}}",
		`{"id":"evt_1","type":"x","created":1.5,"data":{"object":{"id":"ch_1"}}}`,
		`{"id":"evt_1","type":"x","created":1e3,"data":{"object":{"id":"ch_1"}}}`,
		`{"id":"evt_1","type":"x","created":99999999999999999999,"data":{"object":{"id":"ch_1"}}}`,
		`{"id":"evt_1","type":"x","livemode":"true","data":{"object":{"id":"ch_1"}}}`,
		`{"id":"evt_1","type":"x","livemode":null,"api_version":null,"data":{"object":{"id":"ch_1"}}}`,
		`{"id":5,"type":"x","data":{"object":{"id":"ch_1"}}}`,
		`{"id":"evt_1","type":"x","data":[],"extra":[1,-0.5e+3,{"a":[true,false,null]}]}`,
		`{"ID":"evt_1","type":"x","data":{"object":{"id":"ch_1"}}}`,
		` {"id":"evt_1","type":"x","data":{"object":{"id":"ch_1","charge":{"id":"ch_2"}}}} ` + "\n",
		`{"id":"evt_1","type":"x","data":{"object":{"id":"ch_1"}}}x`,
		`{"id":"evt_1","type":"x","data":{"object":{"id":"ch_1"}},}`,
		`{"a":01}`, `{"a":1.}`, `{"a":-}`, `{"a":"\x"}`, `{"a":"` + "\t" + `"}`, `[[[[]]]]`, `"s"`, `1`, `true`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, gotErr := Parse(body)
		want, wantErr := parseReference(body)
		if (gotErr != nil) != (wantErr != nil) {
			t.Fatalf("Parse(%q) error %v, encoding/json says %v", body, gotErr, wantErr)
		}
		if gotErr == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("Parse(%q) = %+v, encoding/json reads %+v", body, got, want)
		}
	})
}

// TestScannerDepth: encoding/json's nesting limit, and no call frame per level.
func TestScannerDepth(t *testing.T) {
	const outer = 3 // the event, data and data.object
	for _, depth := range []int{maxDepth - outer - 1, maxDepth - outer, maxDepth - outer + 1} {
		body := []byte(`{"id":"evt_1","type":"x","data":{"object":{"id":"ch_1","deep":` +
			string(bytes.Repeat([]byte("["), depth)) + string(bytes.Repeat([]byte("]"), depth)) + `}}}`)
		emptyDeep := []byte(`{"deep":` + string(bytes.Repeat([]byte(`{"a":`), depth+outer-2)) + "{}" + string(bytes.Repeat([]byte("}"), depth+outer-2)) + `}`)
		if _, err := read(emptyDeep); (err != nil) != (json.Unmarshal(emptyDeep, new(map[string]any)) != nil) {
			t.Errorf("depth %d of objects: read error %v disagrees with encoding/json", depth, err)
		}
		_, gotErr := Parse(body)
		_, wantErr := parseReference(body)
		if (gotErr != nil) != (depth > maxDepth-outer) || (gotErr != nil) != (wantErr != nil) {
			t.Errorf("depth %d: Parse error %v, encoding/json says %v", depth, gotErr, wantErr)
		}
	}
}
