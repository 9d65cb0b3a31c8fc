package feed

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/stripeline/stripeline/pkg/kafka"
	"github.com/stripeline/stripeline/pkg/selector"
	"github.com/stripeline/stripeline/pkg/stripeevent"
	"github.com/stripeline/stripeline/pkg/testenv"
	"github.com/stripeline/stripeline/services/notifier/internal/hub"
)

type recorder struct {
	mu  sync.Mutex
	got []string
}

func (r *recorder) Deliver(_ *hub.Subscription, ev *hub.Event) {
	r.mu.Lock()
	r.got = append(r.got, ev.ID)
	r.mu.Unlock()
}

func (r *recorder) events() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

// produce writes an event the way webhook-ingest does (key, headers), with
// the broker timestamp at.
func produce(t *testing.T, p sarama.SyncProducer, topic, eventID, objectID string, at time.Time) {
	t.Helper()
	body := fmt.Sprintf(`{"id":%q,"object":"event","type":"charge.succeeded","created":%d,"data":{"object":{"id":%q,"object":"charge","payment_intent":"pi_%s"}}}`, eventID, at.Unix(), objectID, objectID)
	env, err := stripeevent.Parse([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	var headers []sarama.RecordHeader
	for k, v := range kafka.EventHeaders(env, at) {
		headers = append(headers, sarama.RecordHeader{Key: []byte(k), Value: []byte(v)})
	}
	headers = append(headers, sarama.RecordHeader{Key: []byte("_watermill_message_uuid"), Value: []byte("u")})
	if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(objectID), Value: sarama.ByteEncoder(body), Headers: headers, Timestamp: at}); err != nil {
		t.Fatal(err)
	}
}

func TestRebuildsWindowBeforeReady(t *testing.T) {
	broker, topic := testenv.Broker(t), testenv.Topic(t)
	p, err := sarama.NewSyncProducer([]string{broker}, kafka.ProducerSarama("test"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	now := time.Now()
	produce(t, p, topic, "evt_old", "ch_1", now.Add(-20*time.Minute)) // before the window
	for i := range 20 {
		produce(t, p, topic, fmt.Sprintf("evt_%02d", i), fmt.Sprintf("ch_%d", i%3), now.Add(-time.Minute))
	}

	h := hub.New(hub.Config{Window: 10 * time.Minute})
	f := New(Config{Kafka: kafka.Config{Brokers: []string{broker}, Topic: topic}, Window: 10 * time.Minute}, h, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	testenv.Eventually(t, 60*time.Second, func() error { return f.Ready(ctx) })
	// Ready means rebuilt: the window's 20 events are in, the old one is not.
	if st := h.Stats(); st.WindowEvents != 20 {
		t.Fatalf("window at ready = %+v, want the 20 recent events", st)
	}
	r := &recorder{}
	h.Subscribe(hub.NewSubscription("every", "stripe", nil, r)) // not pinned: live events only
	h.Subscribe(hub.NewSubscription("pi", "stripe", pinned(t, "pi_ch_1"), r))
	want := []string{"evt_01", "evt_04", "evt_07", "evt_10", "evt_13", "evt_16", "evt_19"}
	if got := r.events(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("replay for pi_ch_1 = %v, want %v", got, want)
	}
	produce(t, p, topic, "evt_live", "ch_1", time.Now())
	want = append(want, "evt_live", "evt_live") // both subscriptions, live
	testenv.Eventually(t, 30*time.Second, func() error {
		if got := r.events(); fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("deliveries %v, want %v", got, want)
		}
		return nil
	})
}

func pinned(t *testing.T, id string) selector.Expr {
	t.Helper()
	e, err := selector.Parse("id = '" + id + "'")
	if err != nil {
		t.Fatal(err)
	}
	return e
}
