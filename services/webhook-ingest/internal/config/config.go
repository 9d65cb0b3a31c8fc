// Package config is webhook-ingest's settings, read from the environment in one place.
package config

import (
	"errors"
	"fmt"
	"time"

	"github.com/stripeline/stripeline/pkg/httpserver"
	"github.com/stripeline/stripeline/pkg/kafka"
	"github.com/stripeline/stripeline/pkg/logging"
	"github.com/stripeline/stripeline/pkg/secret"
	"github.com/stripeline/stripeline/pkg/tracing"
)

// Config is every setting of webhook-ingest.
type Config struct {
	Addr string `env:"WEBHOOK_INGEST_ADDR, default=127.0.0.1:8081" help:"listen address of the webhook endpoint"`
	// OpsAddr is the ops listener: /healthz, the detailed /readyz and
	// /metrics (pkg/httpserver.OpsHandler). Loopback by default; a
	// container sets 0.0.0.0:9081 so that probes and scrapers reach it.
	OpsAddr string `env:"WEBHOOK_INGEST_OPS_ADDR, default=127.0.0.1:9081" help:"listen address of /healthz, /readyz and /metrics; loopback by default, 0.0.0.0:9081 in a container"`
	Log     logging.Config
	Kafka   kafka.Config
	Tracing tracing.Config

	// WebhookSecrets are the endpoint's signing secrets (whsec_…); more than
	// one while a secret is being rolled. Each must pass secret.Check: no
	// placeholder, at least secret.MinWebhookSecret characters.
	WebhookSecrets []string      `env:"STRIPE_WEBHOOK_SECRETS" help:"the endpoint's signing secrets (whsec_…), comma-separated; more than one while a secret is rolled; required"`
	Tolerance      time.Duration `env:"WEBHOOK_TOLERANCE, default=300s" help:"the most a signature's timestamp may differ from now before the webhook is refused"`
	MaxBody        int64         `env:"WEBHOOK_MAX_BODY_BYTES, default=1048576" help:"largest webhook body taken; a bigger one is refused"`
	PublishTimeout time.Duration `env:"PUBLISH_TIMEOUT, default=5s" help:"how long to wait for the broker's acknowledgement before answering Stripe with an error"`
	// KafkaMaxMessageBytes is the topic's max.message.bytes: the largest
	// record batch the broker takes, so also the largest event (body and
	// headers). The default is just under Kafka's 1,048,588.
	KafkaMaxMessageBytes int `env:"KAFKA_MAX_MESSAGE_BYTES, default=1000012" help:"the topic's max.message.bytes: the largest event, body and headers, the broker takes"`

	// The HTTP server's limits (pkg/httpserver.Limits). A webhook is a few
	// KB and Stripe waits up to 30 s for an answer.
	// ReadTimeout bounds a whole request, header and body, from the
	// connection's first byte (or its opening): a sender that stalls is
	// cut off and gets no answer.
	ReadTimeout time.Duration `env:"WEBHOOK_READ_TIMEOUT, default=10s" help:"bounds a whole request, header and body, from the connection's first byte; a stalled sender is cut off"`
	// WriteTimeout bounds the rest, from the end of the header: the body,
	// the checks, the broker's acknowledgement (PUBLISH_TIMEOUT) and the
	// answer, so it must exceed PublishTimeout.
	WriteTimeout time.Duration `env:"WEBHOOK_WRITE_TIMEOUT, default=10s" help:"bounds the rest from the end of the header: the body, the checks, the broker's acknowledgement and the answer; must exceed PUBLISH_TIMEOUT"`
	// IdleTimeout bounds a kept-alive connection's wait for its next request.
	IdleTimeout time.Duration `env:"WEBHOOK_IDLE_TIMEOUT, default=2m" help:"bounds a kept-alive connection's wait for its next request"`
	// MaxConnections bounds the connections served at once; the next waits
	// in the kernel's accept queue until one closes.
	MaxConnections int `env:"WEBHOOK_MAX_CONNECTIONS, default=4096" help:"the most connections served at once; the next waits in the kernel's accept queue until one closes"`

	ShutdownGrace time.Duration `env:"SHUTDOWN_GRACE, default=10s" help:"how long a stopping service (SIGINT, SIGTERM) may take to finish the work in flight before it exits"`
}

// Validate reports every setting that cannot work.
func (c Config) Validate() error {
	errs := []error{c.Kafka.Validate()}
	if len(c.WebhookSecrets) == 0 {
		errs = append(errs, errors.New("STRIPE_WEBHOOK_SECRETS is required: the endpoint's signing secret(s), comma-separated"))
	}
	for i, s := range c.WebhookSecrets {
		if s == "" {
			errs = append(errs, errors.New("STRIPE_WEBHOOK_SECRETS: empty secret in the list"))
		} else if err := secret.Check(fmt.Sprintf("STRIPE_WEBHOOK_SECRETS (secret %d)", i+1), s, secret.MinWebhookSecret); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Tolerance <= 0 {
		errs = append(errs, errors.New("WEBHOOK_TOLERANCE must be positive"))
	}
	if c.MaxBody <= 0 {
		errs = append(errs, errors.New("WEBHOOK_MAX_BODY_BYTES must be positive"))
	}
	if c.KafkaMaxMessageBytes < 1024 || c.KafkaMaxMessageBytes > 1<<30 {
		errs = append(errs, errors.New("KAFKA_MAX_MESSAGE_BYTES must be between 1024 and 1073741824"))
	}
	if c.PublishTimeout <= 0 {
		errs = append(errs, errors.New("PUBLISH_TIMEOUT must be positive"))
	}
	errs = append(errs, c.Limits().Validate("WEBHOOK_"))
	if c.OpsAddr != "" && c.OpsAddr == c.Addr {
		errs = append(errs, errors.New("WEBHOOK_INGEST_OPS_ADDR must differ from WEBHOOK_INGEST_ADDR: the ops endpoints have a listener of their own"))
	}
	if c.WriteTimeout <= c.PublishTimeout {
		errs = append(errs, errors.New("WEBHOOK_WRITE_TIMEOUT must exceed PUBLISH_TIMEOUT: the answer is written after the broker's acknowledgement"))
	}
	return errors.Join(errs...)
}

// Limits are the HTTP server's limits from the settings. The header's read
// timeout is the whole request's: a request's header and body share one
// deadline.
func (c Config) Limits() httpserver.Limits {
	return httpserver.LimitsOf(c.ReadTimeout, c.WriteTimeout, c.IdleTimeout, c.MaxConnections)
}
