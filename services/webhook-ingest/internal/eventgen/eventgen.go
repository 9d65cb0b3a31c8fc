// Package eventgen makes streams of distinct, realistic Stripe events from
// the shapes in testdata/events, for the tests and the benchmark.
package eventgen

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"github.com/stripeline/stripeline/pkg/stripeevent"
)

// Template is one real event body.
type Template struct {
	Name string
	Body []byte
	env  stripeevent.Envelope
}

// Load reads every *.json event in dir, sorted by name.
func Load(dir string) ([]Template, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var out []Template
	for _, f := range files {
		body, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		env, err := stripeevent.Parse(body)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		out = append(out, Template{Name: filepath.Base(f), Body: body, env: env})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no events in %s", dir)
	}
	return out, nil
}

// Vary returns the template with its event id and object id made unique by
// n, so that n events of one template are n events of n transactions, each
// still the same shape and size (within a few bytes).
func (t Template) Vary(n int) (body []byte, eventID, objectID string) {
	suffix := "x" + strconv.Itoa(n)
	eventID, objectID = t.env.ID+suffix, t.env.ObjectID+suffix
	body = bytes.Replace(t.Body, quote(t.env.ID), quote(eventID), 1)
	body = bytes.ReplaceAll(body, quote(t.env.ObjectID), quote(objectID))
	return body, eventID, objectID
}

func quote(s string) []byte { return []byte(`"` + s + `"`) }
