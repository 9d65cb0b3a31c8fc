package feed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/stripeline/stripeline/pkg/kafka"
	"github.com/stripeline/stripeline/pkg/selector"
	"github.com/stripeline/stripeline/pkg/stripeevent"
	"github.com/stripeline/stripeline/services/notifier/internal/hub"
	"github.com/stripeline/stripeline/tools/testenv"
)

type recorder struct {
	mu  sync.Mutex
	got []string
}

func (r *recorder) Subscribed(*hub.Subscription, hub.Position, bool) {}

func (r *recorder) Deliver(_ *hub.Subscription, ev *hub.Event, _ hub.Position) {
	r.mu.Lock()
	r.got = append(r.got, ev.ID)
	r.mu.Unlock()
}

func (r *recorder) events() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

// counter is the feed's Publisher in tests: it counts what the feed hands
// on, by event id, before the hub's own deduplication by event id, and
// passes it to the hub when there is one.
type counter struct {
	hub *hub.Hub

	mu sync.Mutex
	n  map[string]int
}

func (c *counter) Begin(start map[int32]int64) {
	if c.hub != nil {
		c.hub.Begin(start)
	}
}

func (c *counter) Publish(ev *hub.Event) bool {
	c.mu.Lock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[ev.ID]++
	c.mu.Unlock()
	if c.hub == nil {
		return true
	}
	return c.hub.Publish(ev)
}

func (c *counter) counts() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.n)
}

// has is nil once every id in ids was handed on.
func (c *counter) has(ids ...string) error {
	n := c.counts()
	for _, id := range ids {
		if n[id] == 0 {
			return fmt.Errorf("%s not delivered yet (delivered: %v)", id, n)
		}
	}
	return nil
}

// once fails the test unless the feed handed on exactly the events ids,
// each once.
func (c *counter) once(t *testing.T, ids ...string) {
	t.Helper()
	want := map[string]int{}
	for _, id := range ids {
		want[id] = 1
	}
	if got := c.counts(); !maps.Equal(got, want) {
		t.Fatalf("handed to the hub %v; want each of %v once", got, ids)
	}
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// producer writes events the way webhook-ingest does (key, headers), with
// the broker timestamp of the caller's choosing.
type producer struct {
	t     *testing.T
	p     sarama.SyncProducer
	topic string
}

func newProducer(t *testing.T, broker, topic string) *producer {
	t.Helper()
	p, err := sarama.NewSyncProducer([]string{broker}, kafka.ProducerSarama("test"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return &producer{t, p, topic}
}

func (p *producer) produce(eventID, objectID string, at time.Time) {
	p.t.Helper()
	body := fmt.Sprintf(`{"id":%q,"object":"event","type":"charge.succeeded","created":%d,"data":{"object":{"id":%q,"object":"charge","payment_intent":"pi_%s"}}}`, eventID, at.Unix(), objectID, objectID)
	env, err := stripeevent.Parse([]byte(body))
	if err != nil {
		p.t.Fatal(err)
	}
	var headers []sarama.RecordHeader
	for k, v := range kafka.EventHeaders(env, at) {
		headers = append(headers, sarama.RecordHeader{Key: []byte(k), Value: []byte(v)})
	}
	headers = append(headers, sarama.RecordHeader{Key: []byte("_watermill_message_uuid"), Value: []byte("u")})
	if _, _, err := p.p.SendMessage(&sarama.ProducerMessage{Topic: p.topic, Key: sarama.StringEncoder(objectID), Value: sarama.ByteEncoder(body), Headers: headers, Timestamp: at}); err != nil {
		p.t.Fatal(err)
	}
}

// run runs f until the returned stop is called; stop fails the test if Run
// returned an error or did not return.
func run(t *testing.T, f *Feed) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Error("Run still running 30 s after its context ended")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func newAdmin(t *testing.T, broker string) *kafka.Admin {
	t.Helper()
	a, err := kafka.NewAdmin([]string{broker}, "test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func ready(f *Feed) func() error {
	return func() error { return f.Ready(context.Background()) }
}

func TestRebuildsWindowBeforeReady(t *testing.T) {
	broker, topic := testenv.Broker(t), testenv.Topic(t)
	p := newProducer(t, broker, topic)
	now := time.Now()
	p.produce("evt_old", "ch_1", now.Add(-20*time.Minute)) // before the window
	var ids []string
	for i := range 20 {
		ids = append(ids, fmt.Sprintf("evt_%02d", i))
		p.produce(ids[i], fmt.Sprintf("ch_%d", i%3), now.Add(-time.Minute))
	}

	h := hub.New(hub.Config{Window: 10 * time.Minute})
	c := &counter{hub: h}
	f := New(Config{Kafka: kafka.Config{Brokers: []string{broker}, Topic: topic}, Window: 10 * time.Minute}, c, quiet)
	if f.Ready(context.Background()) == nil {
		t.Fatal("ready before Run")
	}
	run(t, f)
	testenv.Eventually(t, 60*time.Second, ready(f))
	// Ready means rebuilt: the window's 20 events are in, the old one is not.
	if st := h.Stats(); st.WindowEvents != 20 {
		t.Fatalf("window at ready = %+v, want the 20 recent events", st)
	}
	c.once(t, ids...)
	r := &recorder{}
	h.Subscribe(hub.NewSubscription("every", "stripe", nil, r), nil) // not pinned: live events only
	h.Subscribe(hub.NewSubscription("pi", "stripe", pinned(t, "pi_ch_1"), r), nil)
	want := []string{"evt_01", "evt_04", "evt_07", "evt_10", "evt_13", "evt_16", "evt_19"}
	if got := r.events(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("replay for pi_ch_1 = %v, want %v", got, want)
	}
	p.produce("evt_live", "ch_1", time.Now())
	want = append(want, "evt_live", "evt_live") // both subscriptions, live
	testenv.Eventually(t, 30*time.Second, func() error {
		if got := r.events(); fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("deliveries %v, want %v", got, want)
		}
		return nil
	})
	c.once(t, append(ids, "evt_live")...)
}

// Events produced after ready are each handed on once, on every partition;
// a topic with nothing in the window is ready at once.
func TestLiveEventsDeliveredOnce(t *testing.T) {
	broker, topic := testenv.Broker(t), testenv.Topic(t)
	p := newProducer(t, broker, topic)
	p.produce("evt_old", "ch_1", time.Now().Add(-time.Hour))
	c := &counter{}
	f := New(Config{Kafka: kafka.Config{Brokers: []string{broker}, Topic: topic}, Window: 10 * time.Minute}, c, quiet)
	run(t, f)
	testenv.Eventually(t, 60*time.Second, ready(f))

	var ids []string
	for i := range 12 {
		ids = append(ids, fmt.Sprintf("evt_live_%02d", i))
		p.produce(ids[i], fmt.Sprintf("ch_%d", i), time.Now())
	}
	// Then one more per key: the first round's events come before them on
	// their partitions, so once these are in, a double of the first round
	// would have been handed on already.
	var after []string
	for i := range 12 {
		after = append(after, fmt.Sprintf("evt_after_%02d", i))
		p.produce(after[i], fmt.Sprintf("ch_%d", i), time.Now())
	}
	testenv.Eventually(t, 30*time.Second, func() error { return c.has(after...) })
	c.once(t, append(ids, after...)...)
	if err := f.Ready(context.Background()); err != nil {
		t.Fatalf("not ready while live: %v", err)
	}
}

// Sarama starts a partition again from its last commit when a session
// restarts, so the feed sees offsets again: it hands on each (partition,
// offset) once, and nothing from before the window's start.
func TestRedeliveryIsNotDoubled(t *testing.T) {
	c := &counter{}
	f := New(Config{Window: 10 * time.Minute}, c, quiet)
	f.next = map[int32]int64{0: 5, 1: 0} // the window starts at these offsets
	f.aim(map[int32]int64{0: 7, 1: 1})   // the ends at start
	ev := func(id string, p int32, o int64) kafka.Event {
		env, err := stripeevent.Parse(fmt.Appendf(nil, `{"id":%q,"object":"event","type":"charge.succeeded","created":1,"data":{"object":{"id":"ch_1","object":"charge"}}}`, id))
		if err != nil {
			t.Fatal(err)
		}
		return kafka.Event{Envelope: env, Position: kafka.Position{Partition: p, Offset: o, Timestamp: time.Now()}}
	}
	steps := []struct {
		ev   kafka.Event
		want bool
	}{
		{ev("evt_before_window", 0, 4), false},
		{ev("evt_a", 0, 5), true},
		{ev("evt_a_again", 0, 5), false}, // redelivered: same position
		{ev("evt_b", 0, 6), true},
		{ev("evt_a_again", 0, 5), false}, // a session restarted from an older commit
		{ev("evt_b_again", 0, 6), false},
		{ev("evt_c", 1, 0), true},
		{ev("evt_d", 2, 0), true}, // a partition added since the start
		{ev("evt_d_again", 2, 0), false},
		{ev("evt_e", 0, 7), true},
	}
	for _, s := range steps {
		if got := f.deliver(s.ev); got != s.want {
			t.Errorf("deliver %s at %d/%d = %v, want %v", s.ev.ID, s.ev.Partition, s.ev.Offset, got, s.want)
		}
	}
	c.once(t, "evt_a", "evt_b", "evt_c", "evt_d", "evt_e")
	if err := f.Ready(context.Background()); err != nil {
		t.Fatalf("every partition read to its end at start, yet not ready: %v", err)
	}
}

// subscribers wraps the feed's Subscriber factory: it keeps the
// Subscribers it made, and fails while told to.
type subscribers struct {
	mu      sync.Mutex
	made    []message.Subscriber
	fail    bool
	refused int // how many were asked for while failing
}

func (s *subscribers) wrap(f *Feed) {
	f.newSubscriber = func(cfg kafka.SubscriberConfig) (message.Subscriber, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.fail {
			s.refused++
			return nil, errors.New("test: no subscriber")
		}
		sub, err := kafka.NewSubscriber(cfg, nil)
		if err == nil {
			s.made = append(s.made, sub)
		}
		return sub, err
	}
}

func (s *subscribers) set(fail bool) {
	s.mu.Lock()
	s.fail = fail
	s.mu.Unlock()
}

func (s *subscribers) refusals() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refused
}

func (s *subscribers) last() message.Subscriber {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.made[len(s.made)-1]
}

// When the subscription ends under the feed (here its Subscriber is
// closed), the feed is not ready while it cannot subscribe again, sets its
// group's offsets to right after what it delivered, and then resumes there:
// the events produced meanwhile arrive, none twice.
func TestResumesWhenTheSubscriptionEnds(t *testing.T) {
	broker, topic := testenv.Broker(t), testenv.Topic(t)
	p := newProducer(t, broker, topic)
	admin := newAdmin(t, broker)
	var ids []string
	for i := range 5 {
		ids = append(ids, fmt.Sprintf("evt_%d", i))
		p.produce(ids[i], fmt.Sprintf("ch_%d", i), time.Now().Add(-time.Minute))
	}
	c := &counter{}
	f := New(Config{Kafka: kafka.Config{Brokers: []string{broker}, Topic: topic}, Window: 10 * time.Minute}, c, quiet)
	var subs subscribers
	subs.wrap(f)
	run(t, f)
	testenv.Eventually(t, 60*time.Second, ready(f))
	c.once(t, ids...)

	subs.set(true)
	if err := subs.last().Close(); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, func() error {
		if err := f.Ready(context.Background()); err == nil || !strings.Contains(err.Error(), "subscribing again") {
			return fmt.Errorf("Ready = %v while the feed cannot subscribe; want an error", err)
		}
		return nil
	})
	for i := range 5 { // while nothing reads
		ids = append(ids, fmt.Sprintf("evt_gap_%d", i))
		p.produce(ids[len(ids)-1], fmt.Sprintf("ch_%d", i), time.Now())
	}
	// Each attempt commits the position after the last event delivered
	// before it asks for a Subscriber; the closed one committed earlier.
	ends := testenv.EndOffsets(t, []string{broker}, topic)
	n := subs.refusals()
	testenv.Eventually(t, 30*time.Second, func() error {
		if subs.refusals() <= n {
			return errors.New("no attempt to subscribe again since the gap events")
		}
		return nil
	})
	got, err := admin.GroupOffsets(f.Group(), topic)
	if err != nil {
		t.Fatal(err)
	}
	var behind int64
	for part, o := range got {
		behind += ends[part] - o
	}
	if len(got) != len(ends) || behind != 5 {
		t.Fatalf("group offsets %v with ends %v: want every partition committed, the 5 gap events behind in all", got, ends)
	}
	if err := f.Ready(context.Background()); err == nil {
		t.Fatal("ready while unable to subscribe")
	}

	subs.set(false)
	testenv.Eventually(t, 30*time.Second, ready(f))
	testenv.Eventually(t, 30*time.Second, func() error { return c.has(ids...) })
	p.produce("evt_after", "ch_0", time.Now())
	ids = append(ids, "evt_after")
	testenv.Eventually(t, 30*time.Second, func() error { return c.has(ids...) })
	c.once(t, ids...)
}

// startsAt makes the feed's first Subscriber start at offsets of the test's
// choosing: change runs after the feed set its group's offsets, before the
// Subscriber joins.
func startsAt(t *testing.T, f *Feed, change func(group string)) {
	var once sync.Once
	f.newSubscriber = func(cfg kafka.SubscriberConfig) (message.Subscriber, error) {
		once.Do(func() { change(cfg.Group) })
		return kafka.NewSubscriber(cfg, nil)
	}
}

// Retention removed the window's start after the feed found it (the old
// feed's partition consumer stopped there for good, and stayed ready): the
// feed reads what is left, is ready, and live events flow.
func TestWindowStartRemovedByRetention(t *testing.T) {
	broker, topic := testenv.Broker(t), testenv.Topic(t)
	p := newProducer(t, broker, topic)
	var ids []string
	for i := range 8 { // one key: one partition, offsets 0 to 7
		ids = append(ids, fmt.Sprintf("evt_%d", i))
		p.produce(ids[i], "ch_1", time.Now().Add(-time.Minute))
	}
	ends := testenv.EndOffsets(t, []string{broker}, topic)
	var part int32 = -1
	for pt, end := range ends {
		if end == 8 {
			part = pt
		}
	}
	c := &counter{}
	f := New(Config{Kafka: kafka.Config{Brokers: []string{broker}, Topic: topic}, Window: 10 * time.Minute}, c, quiet)
	startsAt(t, f, func(string) {
		admin, err := sarama.NewClusterAdmin([]string{broker}, kafka.ConsumerSarama("test", sarama.OffsetOldest))
		if err != nil {
			t.Error(err)
			return
		}
		defer admin.Close()
		if err := admin.DeleteRecords(topic, map[int32]int64{part: 5}); err != nil {
			t.Error(err)
		}
	})
	run(t, f)
	testenv.Eventually(t, 60*time.Second, ready(f))
	c.once(t, ids[5:]...)
	p.produce("evt_live", "ch_1", time.Now())
	testenv.Eventually(t, 30*time.Second, func() error { return c.has("evt_live") })
	c.once(t, append(ids[5:], "evt_live")...)
}

// A committed offset beyond the end (a topic recreated, a log truncated)
// makes Sarama start the partition at its oldest offset: what the feed
// handed on already, and what is older than the window, is not handed on
// again; the feed is ready and live events flow.
func TestCommittedOffsetBeyondTheEnd(t *testing.T) {
	broker, topic := testenv.Broker(t), testenv.Topic(t)
	p := newProducer(t, broker, topic)
	admin := newAdmin(t, broker)
	p.produce("evt_old", "ch_1", time.Now().Add(-time.Hour))
	ids := []string{"evt_0", "evt_1", "evt_2"}
	for _, id := range ids {
		p.produce(id, "ch_1", time.Now().Add(-time.Minute))
	}
	c := &counter{}
	f := New(Config{Kafka: kafka.Config{Brokers: []string{broker}, Topic: topic}, Window: 10 * time.Minute}, c, quiet)
	startsAt(t, f, func(group string) {
		beyond := map[int32]int64{}
		for pt, end := range testenv.EndOffsets(t, []string{broker}, topic) {
			beyond[pt] = end + 100
		}
		if err := admin.SetGroupOffsets(group, topic, beyond); err != nil {
			t.Error(err)
		}
	})
	run(t, f)
	testenv.Eventually(t, 60*time.Second, ready(f))
	c.once(t, ids...)
	p.produce("evt_live", "ch_1", time.Now())
	testenv.Eventually(t, 30*time.Second, func() error { return c.has("evt_live") })
	c.once(t, append(ids, "evt_live")...)
}

// The instance's group exists, with the Subscriber as its member, while the
// feed runs, and is gone once it stopped.
func TestGroupDeletedOnStop(t *testing.T) {
	broker, topic := testenv.Broker(t), testenv.Topic(t)
	admin := newAdmin(t, broker)
	f := New(Config{Kafka: kafka.Config{Brokers: []string{broker}, Topic: topic}, Window: 10 * time.Minute}, &counter{}, quiet)
	if !strings.HasPrefix(f.Group(), GroupPrefix) {
		t.Fatalf("group %q without the prefix %q", f.Group(), GroupPrefix)
	}
	if other := New(f.cfg, &counter{}, quiet); other.Group() == f.Group() {
		t.Fatalf("two feeds share the group %s", f.Group())
	}
	stop := run(t, f)
	testenv.Eventually(t, 60*time.Second, ready(f))
	testenv.Eventually(t, 30*time.Second, func() error {
		st, err := admin.DescribeGroups(f.Group())
		if err != nil {
			return err
		}
		if st[f.Group()].Members != 1 {
			return fmt.Errorf("group %s: %+v; want the Subscriber as its one member", f.Group(), st[f.Group()])
		}
		return nil
	})
	stop()
	groups, err := admin.Groups()
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(groups, f.Group()) {
		t.Fatalf("group %s still listed after the feed stopped", f.Group())
	}
	if f.Ready(context.Background()) == nil {
		t.Fatal("ready after Run returned")
	}
}

// At start the feed deletes the notifier groups nobody reads with (no
// member, behind by messages older than the window and a margin), and
// leaves the others.
func TestSweepsAbandonedGroups(t *testing.T) {
	broker, topic := testenv.Broker(t), testenv.Topic(t)
	p := newProducer(t, broker, topic)
	admin := newAdmin(t, broker)
	now := time.Now()
	for i := range 4 {
		p.produce(fmt.Sprintf("evt_old_%d", i), fmt.Sprintf("ch_%d", i), now.Add(-2*time.Hour))
	}
	for i := range 4 {
		p.produce(fmt.Sprintf("evt_new_%d", i), fmt.Sprintf("ch_%d", i), now.Add(-time.Minute))
	}
	oldest, err := admin.StartOffsets(topic)
	if err != nil {
		t.Fatal(err)
	}
	ends, err := admin.EndOffsets(topic)
	if err != nil {
		t.Fatal(err)
	}
	windowStart, err := admin.OffsetsAt(topic, now.Add(-10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	name := func(kind string) string { return GroupPrefix + kind + "-" + topic }
	groups := map[string]map[int32]int64{
		name("crashed"):          oldest,      // behind by two-hour-old events: deleted
		name("idle"):             ends,        // read everything: kept
		name("starting"):         windowStart, // an instance about to join: kept
		name("live"):             oldest,      // has a member: kept
		"other-service-" + topic: oldest,      // not the notifier's: kept
	}
	for g, offsets := range groups {
		if err := admin.SetGroupOffsets(g, topic, offsets); err != nil {
			t.Fatal(err)
		}
	}
	// A member that reads nothing (the channel is never read, nothing acked).
	live, err := kafka.NewSubscriber(kafka.SubscriberConfig{Brokers: []string{broker}, ClientID: "test", Group: name("live")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	if _, err := live.Subscribe(context.Background(), topic); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, func() error {
		st, err := admin.DescribeGroups(name("live"))
		if err == nil && st[name("live")].Members != 1 {
			err = fmt.Errorf("live group %+v", st[name("live")])
		}
		return err
	})

	f := New(Config{Kafka: kafka.Config{Brokers: []string{broker}, Topic: topic}, Window: 10 * time.Minute}, &counter{}, quiet)
	run(t, f)
	testenv.Eventually(t, 60*time.Second, ready(f)) // the sweep runs before the first subscription
	listed, err := admin.Groups()
	if err != nil {
		t.Fatal(err)
	}
	for g := range groups {
		if want := g != name("crashed"); slices.Contains(listed, g) != want {
			t.Errorf("group %s listed: %v, want %v", g, !want, want)
		}
	}
	for g := range groups {
		if err := admin.DeleteGroup(g); err != nil && g != name("live") {
			t.Error(err)
		}
	}
}

func pinned(t *testing.T, id string) selector.Expr {
	t.Helper()
	e, err := selector.Parse("id = '" + id + "'")
	if err != nil {
		t.Fatal(err)
	}
	return e
}
