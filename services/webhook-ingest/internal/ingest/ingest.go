// Package ingest is webhook-ingest's HTTP port: verify a Stripe webhook,
// publish its raw body, and answer 2xx only once the broker has it.
package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/stripeline/stripeline/pkg/kafka"
	"github.com/stripeline/stripeline/pkg/stripeevent"
	"github.com/stripeline/stripeline/services/webhook-ingest/internal/signature"
)

// Publisher is the watermill publisher the handler needs. Publish returns
// nil only once the broker acknowledged every message, and returns an error
// as soon as a message's context (message.SetContext) ends: the handler
// answers within its deadline even when the broker hangs.
// kafka.BatchPublisher is one.
type Publisher interface {
	Publish(topic string, msgs ...*message.Message) error
}

// Config is the handler's settings.
type Config struct {
	Topic          string
	Secrets        []string
	Tolerance      time.Duration
	MaxBody        int64
	PublishTimeout time.Duration
}

// Paths the handler is served at.
const (
	Path            = "/webhooks/stripe"
	BackendlessPath = "/api/services/Stripe/webhooks/handler" // the Backendless plugin's URL
)

// Handler serves the webhook routes.
type Handler struct {
	cfg      Config
	verifier *signature.Verifier
	pub      Publisher
	metrics  *Metrics
	logger   *slog.Logger
}

// New registers the webhook routes on mux.
func New(mux *http.ServeMux, cfg Config, pub Publisher, metrics *Metrics, logger *slog.Logger) *Handler {
	h := &Handler{
		cfg:      cfg,
		verifier: signature.New(cfg.Secrets, cfg.Tolerance),
		pub:      pub,
		metrics:  metrics,
		logger:   logger,
	}
	mux.Handle(Path, h)
	mux.Handle(BackendlessPath, h)
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	o, env := h.handle(r)
	h.metrics.observe(o.reason, time.Since(start))
	if o.status != http.StatusOK {
		level := slog.LevelInfo
		if o.status >= 500 {
			level = slog.LevelError
		}
		// The reason only: never the body or a secret.
		h.logger.Log(r.Context(), level, "webhook refused", "status", o.status, "reason", o.reason, "detail", o.detail, "event_id", env.ID)
		if o.status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", http.MethodPost)
		}
		writeJSON(w, o.status, map[string]any{"error": map[string]string{"code": o.reason, "message": o.detail}})
		return
	}
	h.logger.Debug("webhook accepted", "event_id", env.ID, "event_type", env.Type)
	id, _ := json.Marshal(env.ID) // a string always marshals
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(slices.Concat([]byte(`{"received":true,"event_id":`), id, []byte("}\n")))
}

// handle is one delivery, from request to outcome; it publishes only what
// passed every check.
func (h *Handler) handle(r *http.Request) (outcome, stripeevent.Envelope) {
	var env stripeevent.Envelope
	if r.Method != http.MethodPost {
		return methodNotAllowed, env
	}
	body, err := readBody(r, h.cfg.MaxBody)
	if err != nil {
		if errors.Is(err, errTooLarge) {
			return bodyTooLarge, env
		}
		return unreadableBody, env
	}
	if err := h.verifier.Verify(body, r.Header.Get("Stripe-Signature"), time.Now()); err != nil {
		return signatureOutcome(err), env
	}
	env, err = stripeevent.Parse(body)
	if err != nil {
		return notAnEvent(err), env
	}
	msg := message.NewMessage(watermill.NewUUID(), body)
	for k, v := range env.Headers(time.Now()) {
		msg.Metadata.Set(k, v)
	}
	ctx, cancel := context.WithTimeoutCause(r.Context(), h.cfg.PublishTimeout, errPublishTimeout)
	defer cancel()
	msg.SetContext(ctx)
	if err := h.pub.Publish(h.cfg.Topic, msg); err != nil {
		return publishOutcome(err), env
	}
	return accepted, env
}

var (
	errTooLarge       = errors.New("body over the limit")
	errPublishTimeout = errors.New("the broker did not acknowledge within the publish timeout")
)

// readBody reads at most limit bytes. A declared length over the limit is
// refused before reading; net/http never returns more than the declared length.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, errTooLarge
	}
	if r.ContentLength >= 0 {
		body := make([]byte, r.ContentLength)
		_, err := io.ReadFull(r.Body, body)
		return body, err
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err == nil && int64(len(body)) > limit {
		err = errTooLarge
	}
	return body, err
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Every answer but 200 says which of these it was: error.code in the body,
// reason in the log line, the outcome label of the metrics.
type outcome struct {
	status int
	reason string
	detail string
}

var (
	accepted         = outcome{http.StatusOK, "accepted", ""}
	methodNotAllowed = outcome{http.StatusMethodNotAllowed, "method_not_allowed", "webhooks are POSTed"}
	bodyTooLarge     = outcome{http.StatusRequestEntityTooLarge, "body_too_large", "the body is over the configured limit"}
	unreadableBody   = outcome{http.StatusBadRequest, "unreadable_body", "could not read the whole request body"}
)

// outcomes lists every reason, so the metrics show each from the start.
var outcomes = []string{
	accepted.reason, methodNotAllowed.reason, bodyTooLarge.reason, unreadableBody.reason,
	"missing_signature", "malformed_signature", "invalid_signature", "stale_timestamp", "future_timestamp",
	"not_an_event", "too_large_for_broker", "broker_timeout", "broker_error",
}

func signatureOutcome(err error) outcome {
	reason := "invalid_signature"
	switch {
	case errors.Is(err, signature.ErrMissing):
		reason = "missing_signature"
	case errors.Is(err, signature.ErrMalformed):
		reason = "malformed_signature"
	case errors.Is(err, signature.ErrStale):
		reason = "stale_timestamp"
	case errors.Is(err, signature.ErrFuture):
		reason = "future_timestamp"
	}
	return outcome{http.StatusBadRequest, reason, err.Error()}
}

func notAnEvent(err error) outcome {
	return outcome{http.StatusBadRequest, "not_an_event", err.Error()}
}

// publishOutcome: 503 for what a later retry can fix, so Stripe retries.
func publishOutcome(err error) outcome {
	switch {
	case errors.Is(err, kafka.ErrMessageTooLarge):
		return outcome{http.StatusRequestEntityTooLarge, "too_large_for_broker", "the event is larger than the broker accepts"}
	case errors.Is(err, errPublishTimeout):
		return outcome{http.StatusServiceUnavailable, "broker_timeout", "the broker did not acknowledge the event in time; retry later"}
	default:
		return outcome{http.StatusServiceUnavailable, "broker_error", "the event could not be stored; retry later"}
	}
}
