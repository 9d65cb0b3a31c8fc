// Package ingest is webhook-ingest's HTTP port: verify a Stripe webhook,
// publish its raw body, and answer 2xx only once the broker has it. It is
// served by fasthttp (server.go): on two cores shared with the broker,
// net/http's per-request cost was most of the service's (docs/webhook-ingest.md).
package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/valyala/fasthttp"

	"github.com/stripeline/stripeline/pkg/kafka"
	"github.com/stripeline/stripeline/pkg/stripeevent"
	"github.com/stripeline/stripeline/services/webhook-ingest/internal/signature"
)

// Publisher is the watermill publisher the handler needs. Publish returns
// nil only once the broker acknowledged every message, and returns an error
// as soon as a message's context (message.SetContext) ends: the handler
// answers within its deadline even when the broker hangs.
// kafka.Publisher is one.
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

// New returns the handler of the webhook routes; NewServer serves it.
func New(cfg Config, pub Publisher, metrics *Metrics, logger *slog.Logger) *Handler {
	return &Handler{
		cfg:      cfg,
		verifier: signature.New(cfg.Secrets, cfg.Tolerance),
		pub:      pub,
		metrics:  metrics,
		logger:   logger,
	}
}

// Serve answers one delivery. The server has read the whole body, within
// the limit (a larger one never reaches here: see refuseUnread).
func (h *Handler) Serve(c *fasthttp.RequestCtx) {
	start := time.Now()
	o, env := methodNotAllowed, stripeevent.Envelope{}
	if c.IsPost() {
		// A copy: the server reuses its buffer for the next request, and the
		// producer may still hold the body after a publish timed out.
		o, env = h.deliver(bytes.Clone(c.PostBody()), string(c.Request.Header.Peek("Stripe-Signature")))
	}
	h.answer(c, o, env, time.Since(start))
}

// deliver judges a body and its signature header, and publishes the body if
// it passes every check.
func (h *Handler) deliver(body []byte, sig string) (outcome, stripeevent.Envelope) {
	var env stripeevent.Envelope
	if err := h.verifier.Verify(body, sig, time.Now()); err != nil {
		return signatureOutcome(err), env
	}
	env, err := stripeevent.Parse(body)
	if err != nil {
		return notAnEvent(err), env
	}
	msg := kafka.NewEventMessage(body, env, time.Now())
	ctx, cancel := context.WithTimeoutCause(context.Background(), h.cfg.PublishTimeout, errPublishTimeout)
	defer cancel()
	msg.SetContext(ctx)
	if err := h.pub.Publish(h.cfg.Topic, msg); err != nil {
		return publishOutcome(err), env
	}
	return accepted, env
}

// answer counts, logs and writes the outcome of a delivery.
func (h *Handler) answer(c *fasthttp.RequestCtx, o outcome, env stripeevent.Envelope, took time.Duration) {
	h.metrics.observe(o.reason, took)
	c.SetContentType("application/json")
	if o.status != http.StatusOK {
		level := slog.LevelInfo
		if o.status >= 500 {
			level = slog.LevelError
		}
		// The reason only: never the body or a secret.
		h.logger.Log(c, level, "webhook refused", "status", o.status, "reason", o.reason, "detail", o.detail, "event_id", env.ID)
		if o.status == http.StatusMethodNotAllowed {
			c.Response.Header.Set("Allow", http.MethodPost)
		}
		b, _ := json.Marshal(map[string]any{"error": map[string]string{"code": o.reason, "message": o.detail}})
		c.SetStatusCode(o.status)
		c.SetBody(append(b, '\n'))
		return
	}
	h.logger.Debug("webhook accepted", "event_id", env.ID, "event_type", env.Type)
	id, _ := json.Marshal(env.ID) // a string always marshals
	c.SetBody(slices.Concat([]byte(`{"received":true,"event_id":`), id, []byte("}\n")))
}

// refuseUnread answers a request the server could not read whole: a body
// over the limit (declared, or found while reading a chunked one) is 413
// body_too_large; a header over the read buffer, 431; anything else, 400.
// A read that timed out gets no answer: the connection is closed.
func (h *Handler) refuseUnread(c *fasthttp.RequestCtx, err error) {
	if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() {
		// Nothing came, or not a whole request, within the read timeout:
		// mostly a connection an HTTP client dialled ahead and never used.
		// An answer there is one the client never asked for (Go's client
		// logs "Unsolicited response received on idle HTTP channel"), so
		// close it unanswered, as net/http does; fasthttp's own answer
		// then goes nowhere.
		_ = c.Conn().Close()
		return
	}
	o := unreadableBody
	var small *fasthttp.ErrSmallBuffer
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		o = bodyTooLarge
	case errors.As(err, &small):
		o = headerTooLarge
	}
	h.answer(c, o, stripeevent.Envelope{}, 0)
}

var errPublishTimeout = errors.New("the broker did not acknowledge within the publish timeout")

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
	unreadableBody   = outcome{http.StatusBadRequest, "unreadable_body", "could not read the request"}
	headerTooLarge   = outcome{http.StatusRequestHeaderFieldsTooLarge, "header_too_large", "the request header is over the server's read buffer"}
)

// outcomes lists every reason, so the metrics show each from the start.
var outcomes = []string{
	accepted.reason, methodNotAllowed.reason, bodyTooLarge.reason, unreadableBody.reason, headerTooLarge.reason,
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
