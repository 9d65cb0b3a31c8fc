package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/stripeline/stripeline/pkg/stripeevent"
	"github.com/stripeline/stripeline/tools/devstack"
	"github.com/stripeline/stripeline/tools/testenv"
)

// TestOneTracePerEvent follows one webhook through the real services: its
// trace (continued from the traceparent the sender gave) holds the
// webhook's span in webhook-ingest, the Kafka publish, the event-writer's
// insert and the notifier's delivery to each subscribed connection, each
// exported over OTLP by its own process.
func TestOneTracePerEvent(t *testing.T) {
	txID := "ch_trace_" + devstack.RandomHex(6)
	token := mintToken(t, txID)
	a, b := dial(t), dial(t)
	for _, c := range []*websocket.Conn{a, b} {
		subscribe(t, c, map[string]string{"type": "subscribe", "channel": "stripe", "selector": fmt.Sprintf("id = '%s'", txID), "token": token})
	}

	traceID := devstack.RandomHex(16)
	body := fmt.Appendf(nil, `{"id":"evt_%s","object":"event","type":"charge.succeeded","created":%d,"livemode":false,"data":{"object":{"id":%q,"object":"charge"}}}`,
		devstack.RandomHex(8), time.Now().Unix(), txID)
	req, _ := http.NewRequest(http.MethodPost, stack.URL("webhook-ingest")+"/webhooks/stripe", bytes.NewReader(body))
	req.Header.Set("Stripe-Signature", stripeevent.Sign(body, time.Now(), stack.Config.WebhookSecret))
	req.Header.Set("traceparent", "00-"+traceID+"-"+devstack.RandomHex(8)+"-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("webhook answered %d, want 200", resp.StatusCode)
	}
	for _, c := range []*websocket.Conn{a, b} {
		m := readMessage(t, c)
		if _, ok := m.Headers["traceparent"]; ok {
			t.Errorf("a websocket client got the trace header: %v", m.Headers)
		}
	}

	want := map[string]int{ // service/span name: how many
		"webhook-ingest/webhook":                            1,
		"webhook-ingest/" + stack.Config.Topic + " publish": 1,
		"event-writer/" + stack.Config.Topic + " receive":   1,
		"event-writer/stripe_events insert":                 1,
		"notifier/" + stack.Config.Topic + " receive":       1,
		"notifier/websocket deliver":                        2, // one per subscribed connection
	}
	testenv.Eventually(t, 30*time.Second, func() error {
		got := map[string]int{}
		for _, s := range traces.trace(traceID) {
			got[s.Service+"/"+s.Name]++
		}
		for k, n := range want {
			if got[k] < n {
				return fmt.Errorf("trace %s has %v, want at least %v", traceID, got, want)
			}
		}
		return nil
	})
	// Every span hangs from one in the same trace, the webhook's from the sender's.
	spans := traces.trace(traceID)
	ids := map[string]bool{}
	for _, s := range spans {
		ids[s.SpanID] = true
	}
	roots := 0
	for _, s := range spans {
		if !ids[s.ParentID] {
			roots++
			if s.Name != "webhook" {
				t.Errorf("span %s/%s's parent %s is not in the trace", s.Service, s.Name, s.ParentID)
			}
		}
	}
	if roots != 1 {
		t.Errorf("%d spans hang from outside the trace, want only the webhook's (from the sender's): %+v", roots, spans)
	}
}
