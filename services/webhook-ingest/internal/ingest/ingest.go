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
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/stripeline/stripeline/pkg/stripeevent"
)

// Publisher is the part of a watermill publisher the handler needs: Publish
// returns once the broker acknowledged.
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

// Handler serves the webhook routes.
type Handler struct {
	cfg    Config
	pub    Publisher
	logger *slog.Logger
	now    func() time.Time
}

// New registers the webhook routes on mux.
func New(mux *http.ServeMux, cfg Config, pub Publisher, logger *slog.Logger) *Handler {
	h := &Handler{cfg: cfg, pub: pub, logger: logger, now: time.Now}
	mux.Handle("/webhooks/stripe", h)
	mux.Handle("/api/services/Stripe/webhooks/handler", h) // the Backendless URL
	return h
}

// outcome is the result of one delivery, as answered and as counted.
type outcome struct {
	status int
	reason string // metric label and error code
	detail string
}

var accepted = outcome{http.StatusOK, "accepted", ""}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o, env := h.handle(r)
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
	writeJSON(w, http.StatusOK, map[string]any{"received": true, "event_id": env.ID})
}

func (h *Handler) handle(r *http.Request) (outcome, stripeevent.Envelope) {
	var env stripeevent.Envelope
	if r.Method != http.MethodPost {
		return outcome{http.StatusMethodNotAllowed, "method_not_allowed", "webhooks are POSTed"}, env
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, h.cfg.MaxBody+1))
	if err != nil {
		return outcome{http.StatusBadRequest, "unreadable_body", "could not read the request body"}, env
	}
	if int64(len(body)) > h.cfg.MaxBody {
		return outcome{http.StatusRequestEntityTooLarge, "body_too_large", "the body is over the configured limit"}, env
	}
	if o := h.verify(body, r.Header.Get("Stripe-Signature")); o != accepted {
		return o, env
	}
	env, err = stripeevent.Parse(body)
	if err != nil {
		return outcome{http.StatusBadRequest, "not_an_event", err.Error()}, env
	}
	receivedAt := h.now()
	msg := message.NewMessage(watermill.NewUUID(), body)
	for k, v := range env.Headers(receivedAt) {
		msg.Metadata.Set(k, v)
	}
	if err := h.publish(r.Context(), msg); err != nil {
		return outcome{http.StatusServiceUnavailable, "broker_unavailable", "the event could not be stored; retry later"}, env
	}
	return accepted, env
}

// verify checks the signature against every configured secret: while a
// secret is being rolled Stripe signs with each active one.
func (h *Handler) verify(body []byte, header string) outcome {
	if header == "" {
		return outcome{http.StatusBadRequest, "missing_signature", "the Stripe-Signature header is missing"}
	}
	var last error
	for _, secret := range h.cfg.Secrets {
		err := webhook.ValidatePayloadWithTolerance(body, header, secret, h.cfg.Tolerance)
		if err == nil {
			return accepted
		}
		last = err
	}
	switch {
	case errors.Is(last, webhook.ErrTooOld):
		return outcome{http.StatusBadRequest, "stale_timestamp", "the signature's timestamp is outside the tolerance"}
	case errors.Is(last, webhook.ErrInvalidHeader), errors.Is(last, webhook.ErrNotSigned):
		return outcome{http.StatusBadRequest, "malformed_signature", "the Stripe-Signature header is not t=…,v1=…"}
	default:
		return outcome{http.StatusBadRequest, "invalid_signature", "no signature matches any configured secret"}
	}
}

// publish waits for the broker's acknowledgement, up to the publish timeout.
func (h *Handler) publish(ctx context.Context, msg *message.Message) error {
	ctx, cancel := context.WithTimeout(ctx, h.cfg.PublishTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- h.pub.Publish(h.cfg.Topic, msg) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
