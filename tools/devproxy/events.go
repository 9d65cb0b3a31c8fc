package devproxy

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/stripeline/stripeline/pkg/stripeevent"
)

// apiVersion is the version stripe-mock v0.180.0 and stripe-go v76 speak.
const apiVersion = "2023-10-16"

// event is a Stripe event of typ about a copy of obj, as Stripe builds one.
func event(typ string, obj map[string]any) map[string]any {
	return map[string]any{
		"id": "evt_" + randomID(24), "object": "event", "api_version": apiVersion,
		"created": time.Now().Unix(), "livemode": false, "pending_webhooks": 1, "type": typ,
		"data": map[string]any{"object": clone(obj)},
	}
}

// request is the event's `request` member: what caused it.
type request struct{ id, idempotencyKey string }

func requestOf(r *http.Request) request {
	return request{id: "req_" + randomID(14), idempotencyKey: r.Header.Get("Idempotency-Key")}
}

// send queues events, in order, for webhook-ingest.
func (p *Proxy) send(req request, events ...map[string]any) {
	for _, ev := range events {
		var key any
		if req.idempotencyKey != "" {
			key = req.idempotencyKey
		}
		ev["request"] = map[string]any{"id": req.id, "idempotency_key": key}
		p.sender.queue(ev)
	}
}

// sender posts events one at a time, in the order queued, each signed as
// Stripe signs; a refused or failed post is retried with backoff, as Stripe
// retries, for a while.
type sender struct {
	url, secret string
	logger      *slog.Logger
	client      *http.Client

	mu      sync.Mutex
	pending []map[string]any
	busy    bool
	wake    chan struct{}
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{}
}

// retryFor is how long one event is retried before the sender gives up on it.
const retryFor = time.Minute

func newSender(url, secret string, logger *slog.Logger) *sender {
	ctx, cancel := context.WithCancel(context.Background())
	s := &sender{url: url, secret: secret, logger: logger, client: &http.Client{Timeout: 15 * time.Second},
		wake: make(chan struct{}, 1), ctx: ctx, cancel: cancel, done: make(chan struct{})}
	go s.run()
	return s
}

func (s *sender) queue(ev map[string]any) {
	s.mu.Lock()
	s.pending = append(s.pending, ev)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *sender) idle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending) == 0 && !s.busy
}

func (s *sender) close() {
	s.cancel()
	<-s.done
}

func (s *sender) run() {
	defer close(s.done)
	for {
		s.mu.Lock()
		if len(s.pending) == 0 {
			s.busy = false
			s.mu.Unlock()
			select {
			case <-s.ctx.Done():
				return
			case <-s.wake:
				continue
			}
		}
		ev := s.pending[0]
		s.pending = s.pending[1:]
		s.busy = true
		s.mu.Unlock()
		s.deliver(ev)
	}
}

func (s *sender) deliver(ev map[string]any) {
	body, err := json.Marshal(ev)
	if err != nil {
		s.logger.Error("event not encodable", "error", err)
		return
	}
	obj, _ := ev["data"].(map[string]any)["object"].(map[string]any)
	attrs := []any{"event_id", ev["id"], "event_type", ev["type"], "object_id", obj["id"]}
	deadline := time.Now().Add(retryFor)
	wait := 100 * time.Millisecond
	for {
		err := s.post(body)
		if err == nil {
			s.logger.Info("webhook sent", attrs...)
			return
		}
		if time.Now().After(deadline) {
			s.logger.Error("webhook not delivered; giving up", append(attrs, "error", err)...)
			return
		}
		s.logger.Warn("webhook not delivered; retrying", append(attrs, "error", err, "retry_in", wait.String())...)
		select {
		case <-s.ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

func (s *sender) post(body []byte) error {
	req, err := http.NewRequestWithContext(s.ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks) stripeline-devproxy")
	req.Header.Set("Stripe-Signature", stripeevent.Sign(body, time.Now(), s.secret))
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook-ingest answered %d: %s", resp.StatusCode, bytes.TrimSpace(answer))
	}
	return nil
}

// TriggerRequest is the body of POST /_stripeline/trigger.
type TriggerRequest struct {
	Type string `json:"type"` // the event type: charge.refunded, payment_intent.succeeded, …
	ID   string `json:"id"`   // the object's id
}

// trigger sends one event about an object: the version the proxy last
// answered or sent, or, for an id it has not seen, stripe-mock's fixture
// with that id; moved to the state the event type says (patches). It
// answers with the event sent.
func (p *Proxy) trigger(w http.ResponseWriter, r *http.Request) {
	var tr TriggerRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&tr); err != nil || tr.Type == "" || tr.ID == "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{"message": `body must be {"type":"<event type>","id":"<object id>"}`}})
		return
	}
	obj := p.remembered(tr.ID)
	if obj == nil {
		var err error
		if obj, err = p.fixture(r.Context(), r, tr.ID); err != nil {
			writeJSON(w, http.StatusNotFound, map[string]any{"error": map[string]any{"message": err.Error()}})
			return
		}
	}
	kind, _ := obj["object"].(string)
	if want := objectOfType(tr.Type); want != kind {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{
			"message": fmt.Sprintf("%s is about a %s; %s is a %s", tr.Type, want, tr.ID, kind)}})
		return
	}
	if patch, ok := patches[tr.Type]; ok {
		patch(obj)
	}
	p.remember(obj)
	ev := event(tr.Type, obj)
	p.send(requestOf(r), ev)
	writeJSON(w, http.StatusOK, ev)
}

// objectOfType is the kind of object an event type is about:
// charge.refunded → charge, checkout.session.completed → checkout.session.
func objectOfType(typ string) string {
	i := strings.LastIndex(typ, ".")
	if i < 0 {
		return typ
	}
	kind := typ[:i]
	if kind == "charge.dispute" {
		return "dispute"
	}
	return kind
}

// patches move an object to the state its event announces.
var patches = map[string]func(map[string]any){
	"charge.succeeded": succeedCharge,
	"charge.failed":    func(o map[string]any) { failCharge(o, declines["chargeDeclined"]) },
	"charge.captured":  func(o map[string]any) { o["captured"] = true; o["amount_captured"] = o["amount"] },
	"charge.refunded": func(o map[string]any) {
		o["refunded"] = true
		o["amount_refunded"] = o["amount"]
	},
	"payment_intent.succeeded": func(o map[string]any) { o["status"] = "succeeded"; o["amount_received"] = o["amount"] },
	"payment_intent.canceled": func(o map[string]any) {
		o["status"] = "canceled"
		o["canceled_at"] = time.Now().Unix()
	},
	"payment_intent.payment_failed": func(o map[string]any) { o["status"] = "requires_payment_method" },
	"payment_intent.processing":     func(o map[string]any) { o["status"] = "processing" },
	"payment_intent.requires_action": func(o map[string]any) {
		o["status"] = "requires_action"
	},
}

const idAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// randomID is n characters of Stripe's id alphabet.
func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = idAlphabet[int(b[i])%len(idAlphabet)]
	}
	return string(b)
}
