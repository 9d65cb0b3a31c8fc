// Package tracing is stripeline's OpenTelemetry tracing: a service's tracer
// provider, exporting over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set
// and absent otherwise, and the W3C trace context (traceparent, tracestate)
// that carries one event's trace through HTTP and Kafka headers
// (docs/design.md, "Tracing").
//
// A nil *Tracing is tracing off: every method works on it and does nothing,
// so a service wires it unconditionally and pays nothing when it is off.
package tracing

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Config is the tracing part of every service's settings. The OTLP
// exporter and the SDK also read their other standard variables
// (OTEL_EXPORTER_OTLP_HEADERS, OTEL_TRACES_SAMPLER, OTEL_RESOURCE_ATTRIBUTES,
// OTEL_BSP_SCHEDULE_DELAY, …) when tracing is on.
type Config struct {
	Endpoint string `env:"OTEL_EXPORTER_OTLP_ENDPOINT" help:"OTLP/HTTP collector base URL (e.g. http://otel-collector:4318): traces are exported there; empty: no tracing at all"`
}

// Tracing is a service's tracer provider; nil is tracing off.
type Tracing struct {
	provider *sdktrace.TracerProvider
}

// Propagator is the trace context format of every header stripeline
// carries a trace in: W3C Trace Context.
var Propagator propagation.TextMapPropagator = propagation.TraceContext{}

// Headers are the header names Propagator reads and writes.
var Headers = Propagator.Fields()

// New returns the tracing of service: nil (off) when cfg names no endpoint,
// else a provider batching spans to the OTLP/HTTP endpoint. Shutdown
// flushes it.
func New(ctx context.Context, cfg Config, service string) (*Tracing, error) {
	if cfg.Endpoint == "" {
		return nil, nil
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(strings.TrimRight(cfg.Endpoint, "/")+"/v1/traces"))
	if err != nil {
		return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT: %w", err)
	}
	return newTracing(ctx, service, sdktrace.WithBatcher(exp))
}

// WithExporter returns the tracing of service handing every span to exp as
// it ends (tests: tracetest.NewInMemoryExporter).
func WithExporter(exp sdktrace.SpanExporter, service string) *Tracing {
	t, err := newTracing(context.Background(), service, sdktrace.WithSyncer(exp))
	if err != nil {
		panic(err) // only malformed OTEL_RESOURCE_ATTRIBUTES fail, and a test sets none
	}
	return t
}

func newTracing(ctx context.Context, service string, export sdktrace.TracerProviderOption) (*Tracing, error) {
	// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, read last, win over ours.
	res, err := resource.New(ctx, resource.WithAttributes(attribute.String("service.name", service)),
		resource.WithTelemetrySDK(), resource.WithFromEnv())
	if err != nil {
		return nil, fmt.Errorf("OTEL_RESOURCE_ATTRIBUTES: %w", err)
	}
	return &Tracing{provider: sdktrace.NewTracerProvider(export, sdktrace.WithResource(res))}, nil
}

// Enabled reports whether spans are recorded and exported.
func (t *Tracing) Enabled() bool { return t != nil }

// Provider is the tracer provider, or nil when tracing is off: the form
// the Kafka wiring (kafka.PublisherConfig.Tracing) takes.
func (t *Tracing) Provider() trace.TracerProvider {
	if t == nil {
		return nil
	}
	return t.provider
}

// Tracer is the named tracer, or nil when tracing is off: the parts that
// record spans (the writer's, the websocket server's) take nil for none,
// and skip even reading the trace context.
func (t *Tracing) Tracer(name string) trace.Tracer {
	if t == nil {
		return nil
	}
	return t.provider.Tracer(name)
}

// Shutdown exports the spans still batched and stops the provider.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return t.provider.Shutdown(ctx)
}

// Handler is h with a server span per request, named operation,
// continuing the trace the caller sent in traceparent; h itself when
// tracing is off. The span records the URL path: serve only routes whose
// paths carry no credential.
func (t *Tracing) Handler(h http.Handler, operation string) http.Handler {
	if t == nil {
		return h
	}
	named := otelhttp.WithSpanNameFormatter(func(string, *http.Request) string { return operation })
	return otelhttp.NewHandler(h, operation, append(t.httpOptions(), named)...)
}

// Transport is rt (http.DefaultTransport when nil) with a client span per
// request and the trace context in its headers; rt itself when tracing is
// off.
func (t *Tracing) Transport(rt http.RoundTripper) http.RoundTripper {
	if rt == nil {
		rt = http.DefaultTransport
	}
	if t == nil {
		return rt
	}
	return otelhttp.NewTransport(rt, t.httpOptions()...)
}

func (t *Tracing) httpOptions() []otelhttp.Option {
	return []otelhttp.Option{
		otelhttp.WithTracerProvider(t.provider),
		otelhttp.WithPropagators(Propagator),
		// The services' metrics are Prometheus, on their own registries.
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()),
	}
}

// Inject writes ctx's span context into headers (a Kafka message's
// metadata, for one); nothing when ctx has none.
func Inject(ctx context.Context, headers map[string]string) {
	Propagator.Inject(ctx, propagation.MapCarrier(headers))
}

// Extract is ctx with the span context headers carry as its remote parent;
// ctx itself when they carry none.
func Extract(ctx context.Context, headers map[string]string) context.Context {
	return Propagator.Extract(ctx, propagation.MapCarrier(headers))
}

// SpanContextOf is the span context headers carry; invalid when none.
func SpanContextOf(headers map[string]string) trace.SpanContext {
	return trace.SpanContextFromContext(Extract(context.Background(), headers))
}

// IsHeader reports whether name is one of the trace context headers.
func IsHeader(name string) bool {
	for _, h := range Headers {
		if h == name {
			return true
		}
	}
	return false
}

// ShutdownWithin is t.Shutdown bounded by grace, for a service's deferred
// stop: a collector that is away costs the stop at most grace, and what
// could not be exported is logged, not returned.
func ShutdownWithin(t *Tracing, grace time.Duration, logger *slog.Logger) {
	if t == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := t.Shutdown(ctx); err != nil {
		logger.Warn("spans not exported at shutdown", "error", err)
	}
}

// PaymentTraceKey is the Stripe metadata key under which the api leaves
// the traceparent of its call to Stripe on the object it creates. Stripe
// carries no trace context into its webhooks, but it does carry the
// object's metadata: webhook-ingest links the webhook's trace to the api's
// through it.
const PaymentTraceKey = "stripeline_traceparent"
