// Package ingest is webhook-ingest's HTTP port: verify a Stripe webhook,
// publish its raw body, and answer 2xx only once the broker has it. It is a
// net/http handler; Routes (server.go) puts it beside the ops routes, and
// pkg/httpserver serves them within the service's limits.
package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

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

// Handler serves the webhook routes: an http.Handler.
type Handler struct {
	cfg      Config
	verifier *signature.Verifier
	pub      Publisher
	metrics  *Metrics
	logger   *slog.Logger
}

// New returns the handler of the webhook routes; Routes serves it.
func New(cfg Config, pub Publisher, metrics *Metrics, logger *slog.Logger) *Handler {
	return &Handler{
		cfg:      cfg,
		verifier: signature.New(cfg.Secrets, cfg.Tolerance),
		pub:      pub,
		metrics:  metrics,
		logger:   logger,
	}
}

// ServeHTTP answers one delivery. The body is read as it arrives, into a
// buffer of its own, and never beyond MaxBody: a connection costs what its
// sender sent, not what it declared. The server's read timeout cuts off a
// sender that stalls; such a request gets no answer at all (see abandon).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	o, env := methodNotAllowed, stripeevent.Envelope{}
	if r.Method == http.MethodPost {
		body, err := h.readBody(w, r)
		switch {
		case err == nil:
			o, env = h.deliver(r.Context(), body, r.Header.Get("Stripe-Signature"))
		case timedOut(err):
			abandon()
		default:
			o = bodyOutcome(err)
		}
	}
	h.answer(w, r, o, env, time.Since(start))
}

// readBody reads r's body whole, refusing one over MaxBody: at once if its
// declared Content-Length is, else when the bytes read pass it.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength > h.cfg.MaxBody {
		// Left unread: the connection closes after the answer (as past a
		// MaxBytesReader's limit) instead of net/http reading the rest.
		w.Header().Set("Connection", "close")
		return nil, &http.MaxBytesError{Limit: h.cfg.MaxBody}
	}
	return io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBody))
}

// timedOut reports whether a read failed for the server's read timeout.
func timedOut(err error) bool {
	ne, ok := errors.AsType[net.Error](err)
	return ok && ne.Timeout()
}

// abandon ends a request whose body did not come whole within the read
// timeout (its sender stalled, or trickled): it is no delivery and is not
// counted, and it gets no answer, as a request whose header did not come in
// time gets none from net/http. Returning instead would let net/http answer
// 200 for a handler that wrote nothing: a success for an event never read.
// http.ErrAbortHandler is net/http's way to abort a response: the
// connection is closed, and no stack is logged.
func abandon() {
	panic(http.ErrAbortHandler)
}

// deliver judges a body and its signature header, and publishes the body if
// it passes every check, in the trace of rctx (the request's).
func (h *Handler) deliver(rctx context.Context, body []byte, sig string) (outcome, stripeevent.Envelope) {
	var env stripeevent.Envelope
	if err := h.verifier.Verify(body, sig, time.Now()); err != nil {
		return signatureOutcome(err), env
	}
	env, err := stripeevent.Parse(body)
	if err != nil {
		return notAnEvent(err), env
	}
	msg := kafka.NewEventMessage(body, env, time.Now())
	traceEvent(rctx, env, body, msg.Metadata)
	ctx, cancel := context.WithTimeoutCause(context.Background(), h.cfg.PublishTimeout, errPublishTimeout)
	defer cancel()
	msg.SetContext(ctx)
	if err := h.pub.Publish(h.cfg.Topic, msg); err != nil {
		return publishOutcome(err), env
	}
	return accepted, env
}

// answer counts, logs and writes the outcome of a delivery.
func (h *Handler) answer(w http.ResponseWriter, r *http.Request, o outcome, env stripeevent.Envelope, took time.Duration) {
	h.metrics.observe(o.reason, took)
	w.Header().Set("Content-Type", "application/json")
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
		b, _ := json.Marshal(map[string]any{"error": map[string]string{"code": o.reason, "message": o.detail}})
		w.WriteHeader(o.status)
		_, _ = w.Write(append(b, '\n'))
		return
	}
	h.logger.Debug("webhook accepted", "event_id", env.ID, "event_type", env.Type)
	id, _ := json.Marshal(env.ID) // a string always marshals
	_, _ = w.Write(slices.Concat([]byte(`{"received":true,"event_id":`), id, []byte("}\n")))
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
)

// outcomes lists every reason, so the metrics show each from the start.
var outcomes = []string{
	accepted.reason, methodNotAllowed.reason, bodyTooLarge.reason, unreadableBody.reason,
	"missing_signature", "malformed_signature", "invalid_signature", "stale_timestamp", "future_timestamp",
	"not_an_event", "too_large_for_broker", "broker_timeout", "broker_error",
}

// bodyOutcome: a body over MaxBody is 413; any other failed read (a
// malformed chunk, a sender gone mid-body), 400.
func bodyOutcome(err error) outcome {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return bodyTooLarge
	}
	return unreadableBody
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
