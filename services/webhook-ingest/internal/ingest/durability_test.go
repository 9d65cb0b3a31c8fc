package ingest

import (
	"bytes"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stripeline/stripeline/pkg/kafka"
	"github.com/stripeline/stripeline/pkg/stripeevent"
	"github.com/stripeline/stripeline/tools/devstack"
	"github.com/stripeline/stripeline/tools/loadgen"
	"github.com/stripeline/stripeline/tools/testenv"
)

// delivery is one webhook as the sender saw it.
type delivery struct {
	eventID string
	status  int
	took    time.Duration
	phase   int // when it was sent: 0 before the broker stopped, 1 while it was down, 2 after it came back
}

// TestBrokerOutageMidStream streams signed webhooks, stops the broker,
// starts it again on the same port and data, and checks what was promised:
//   - every answer is 200 or 503 (never a 200 for an event the broker did not
//     acknowledge), and a 503 comes within the publish timeout;
//   - every event that got a 200 is on the topic; the accepted counter equals
//     the number of 200s, which equals the number of distinct 200'd events on
//     the topic;
//   - nothing else is on the topic but events that got a 503: a 503 means
//     "not known to be stored", and such an event may be there (acknowledged
//     too late, or written by a retry after we answered); Stripe redelivers
//     it and the event-writer stores it once;
//   - the service takes 200s again once the broker is back, with no restart.
func TestBrokerOutageMidStream(t *testing.T) {
	if testing.Short() {
		t.Skip("stops and restarts a broker")
	}
	port, err := devstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	bcfg := devstack.BrokerConfig{Addr: fmt.Sprintf("127.0.0.1:%d", port), DataDir: t.TempDir(), Partitions: 4}
	broker, err := devstack.StartBroker(bcfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { broker.Close() }()

	cfg := defaultConfig(testenv.Topic(t))
	cfg.PublishTimeout = time.Second
	s := startService(t, []string{broker.Addr()}, cfg)
	tpls := loadgen.Shapes()

	var (
		mu         sync.Mutex
		phase      int
		deliveries []delivery
		stop       = make(chan struct{})
		wg         sync.WaitGroup
	)
	// counts reports how many deliveries of a phase got status.
	counts := func(ph, status int) int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, d := range deliveries {
			if d.phase == ph && d.status == status {
				n++
			}
		}
		return n
	}
	client := &http.Client{Timeout: 30 * time.Second}
	const senders = 8
	for w := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := w; ; n += senders {
				select {
				case <-stop:
					return
				default:
				}
				body, eventID, _ := tpls[n%len(tpls)].Vary(n)
				req, _ := http.NewRequest(http.MethodPost, s.url+Path, bytes.NewReader(body))
				req.Header.Set("Stripe-Signature", stripeevent.Sign(body, time.Now(), secretNew))
				mu.Lock()
				ph := phase
				mu.Unlock()
				start := time.Now()
				resp, err := client.Do(req)
				d := delivery{eventID: eventID, took: time.Since(start), phase: ph}
				if err != nil {
					t.Errorf("%s: %v", eventID, err)
					return
				}
				resp.Body.Close()
				d.status = resp.StatusCode
				mu.Lock()
				deliveries = append(deliveries, d)
				mu.Unlock()
			}
		}()
	}
	setPhase := func(p int) {
		mu.Lock()
		phase = p
		mu.Unlock()
	}
	want := func(what string, cond func() bool) {
		t.Helper()
		testenv.Eventually(t, 90*time.Second, func() error {
			if !cond() {
				return fmt.Errorf("waiting for %s", what)
			}
			return nil
		})
	}

	want("200s before the outage", func() bool { return counts(0, 200) >= 100 })
	broker.Close()
	setPhase(1)
	want("503s while the broker is down", func() bool { return counts(1, 503) >= 3*senders })
	broker, err = devstack.StartBroker(bcfg)
	if err != nil {
		close(stop)
		wg.Wait()
		t.Fatalf("restart broker: %v", err)
	}
	setPhase(2)
	want("200s after the broker came back", func() bool { return counts(2, 200) >= 100 })
	close(stop)
	wg.Wait()

	all := map[string]int{} // event id → status
	var ok200, n503 int
	for _, d := range deliveries {
		all[d.eventID] = d.status
		switch d.status {
		case 200:
			ok200++
		case 503:
			n503++
			if d.took > cfg.PublishTimeout+5*time.Second {
				t.Errorf("%s: 503 after %s, publish timeout %s", d.eventID, d.took, cfg.PublishTimeout)
			}
		default:
			t.Errorf("%s: status %d, want 200 or 503", d.eventID, d.status)
		}
		if d.phase == 1 && d.status == 200 {
			// Possible only for an event the broker acknowledged just before it stopped.
			t.Logf("%s: 200 after the broker was stopped (acknowledged before it went)", d.eventID)
		}
	}

	onTopic := map[string]int{}
	for _, m := range s.topicMessages(t) {
		onTopic[header(m, kafka.HeaderEventID)]++
	}
	var dup, late503 int
	for id, n := range onTopic {
		if n > 1 {
			dup++
		}
		status, sent := all[id]
		switch {
		case !sent:
			t.Errorf("%s is on the topic and was never sent", id)
		case status == 503:
			late503++
		}
	}
	stored200 := 0
	for id, status := range all {
		if status == 200 {
			if onTopic[id] == 0 {
				t.Errorf("%s got 200 and is not on the topic", id)
			} else {
				stored200++
			}
		}
	}
	if stored200 != ok200 {
		t.Errorf("%d events got 200, %d of them are on the topic", ok200, stored200)
	}
	// The counters are bumped before the answer is written, and every answer
	// has been read: they are final.
	accepted, refused := s.count("accepted"), s.count("broker_timeout")+s.count("broker_error")
	if accepted != ok200 || refused != n503 {
		t.Errorf("counters accepted %d, broker errors %d; senders saw 200 %d, 503 %d", accepted, refused, ok200, n503)
	}
	if len(onTopic) != ok200+late503 {
		t.Errorf("%d distinct events on the topic, want the %d 200'd + the %d 503'd that landed anyway", len(onTopic), ok200, late503)
	}
	t.Logf("200: %d, 503: %d; on the topic: %d distinct events, %d of them answered 503, %d written twice",
		ok200, n503, len(onTopic), late503, dup)
}
