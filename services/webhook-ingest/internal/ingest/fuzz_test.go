package ingest

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"github.com/stripeline/stripeline/pkg/stripeevent"
	"github.com/stripeline/stripeline/tools/testenv"
)

// FuzzHandler posts arbitrary bodies, either correctly signed (sign) or with
// an arbitrary Stripe-Signature header, to the handler in front of a real
// broker. It never panics and never answers 5xx while the broker is up; a
// correctly signed body gets 200 exactly when it is a well-formed event within
// the body limit, and anything else gets a 4xx. Run longer with
// go test -fuzz FuzzHandler -fuzztime 1m ./services/webhook-ingest/internal/ingest
func FuzzHandler(f *testing.F) {
	cfg := defaultConfig(testenv.Topic(f))
	cfg.MaxBody = 4096 // invoice.paid is over it: the seeds reach 413 too
	s := startService(f, []string{testenv.Broker(f)}, cfg)
	for _, body := range loadEvents(f) {
		f.Add(body, "", true)
		f.Add(body, "t=1700000000,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd", false)
		f.Add(body[:len(body)/2], "", true)
	}
	for _, s := range []string{``, `{}`, `null`, `[]`, `{"id":"evt_1","type":"x","data":{"object":{"id":"ch_1"}}}`, `{"id":"evt_1","type":"x","data":{"object":{}}}`} {
		f.Add([]byte(s), "", true)
		f.Add([]byte(s), "t=abc,v1=", false)
	}
	client := &http.Client{Timeout: 30 * time.Second}

	f.Fuzz(func(t *testing.T, body []byte, sig string, sign bool) {
		if sign {
			sig = stripeevent.Sign(body, time.Now(), secretOld)
		}
		req, err := http.NewRequest(http.MethodPost, s.url+Path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header["Stripe-Signature"] = []string{sig} // as given, even if not a valid header value
		resp, err := client.Do(req)
		if err != nil {
			// net/http refuses to send some header values; nothing reached the handler.
			t.Skip(err)
		}
		resp.Body.Close()
		_, parseErr := stripeevent.Parse(body)
		wellFormed := sign && parseErr == nil && int64(len(body)) <= cfg.MaxBody
		switch {
		case wellFormed && resp.StatusCode != http.StatusOK:
			t.Fatalf("a signed event got %d, want 200", resp.StatusCode)
		case !wellFormed && (resp.StatusCode < 400 || resp.StatusCode > 499):
			t.Fatalf("sign=%v, parse error %v, %d bytes: got %d, want a 4xx", sign, parseErr, len(body), resp.StatusCode)
		}
	})
}
