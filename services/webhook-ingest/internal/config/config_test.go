package config

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stripeline/stripeline/pkg/service"
)

// Signing secrets shaped like Stripe's: "whsec_" and 32 characters.
const (
	secretA = "whsec_3Zq8vN1xK7pL2mR9tY4wB6cD0fG5hJ8k"
	secretB = "whsec_9Hk2Lm4Np6Qr8St0Uv1Wx3Yz5Ab7Cd9E"
)

func TestLoadDefaults(t *testing.T) {
	t.Setenv("STRIPE_WEBHOOK_SECRETS", secretA+","+secretB)
	c, err := service.Load[Config](context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.WebhookSecrets, []string{secretA, secretB}) {
		t.Errorf("secrets %q", c.WebhookSecrets)
	}
	if c.Tolerance != 300*time.Second || c.MaxBody != 1<<20 || c.PublishTimeout != 5*time.Second || c.Addr != "127.0.0.1:8081" || c.OpsAddr != "127.0.0.1:9081" || c.KafkaMaxMessageBytes != 1000012 {
		t.Errorf("defaults: tolerance %s, max body %d, publish timeout %s, addr %s, max message %d", c.Tolerance, c.MaxBody, c.PublishTimeout, c.Addr, c.KafkaMaxMessageBytes)
	}
	if c.ReadTimeout != 10*time.Second || c.WriteTimeout != 10*time.Second || c.IdleTimeout != 2*time.Minute || c.MaxConnections != 4096 {
		t.Errorf("server defaults: read %s, write %s, idle %s, max connections %d", c.ReadTimeout, c.WriteTimeout, c.IdleTimeout, c.MaxConnections)
	}
}

func TestLoadRefuses(t *testing.T) {
	for name, env := range map[string]map[string]string{
		"no secret":        {"STRIPE_WEBHOOK_SECRETS": ""},
		"empty secret":     {"STRIPE_WEBHOOK_SECRETS": secretA + ","},
		"old placeholder":  {"STRIPE_WEBHOOK_SECRETS": "whsec_placeholder"},
		"placeholder":      {"STRIPE_WEBHOOK_SECRETS": secretA + ",whsec_PLACEHOLDER_0123456789abcdef"},
		"short secret":     {"STRIPE_WEBHOOK_SECRETS": secretA + ",whsec_a"},
		"zero tolerance":   {"STRIPE_WEBHOOK_SECRETS": secretA, "WEBHOOK_TOLERANCE": "0s"},
		"negative limit":   {"STRIPE_WEBHOOK_SECRETS": secretA, "WEBHOOK_MAX_BODY_BYTES": "-1"},
		"no timeout":       {"STRIPE_WEBHOOK_SECRETS": secretA, "PUBLISH_TIMEOUT": "0s"},
		"tiny batches":     {"STRIPE_WEBHOOK_SECRETS": secretA, "KAFKA_MAX_MESSAGE_BYTES": "100"},
		"tolerance typo'd": {"STRIPE_WEBHOOK_SECRETS": secretA, "WEBHOOK_TOLERANCE": "300"},
		"no read timeout":  {"STRIPE_WEBHOOK_SECRETS": secretA, "WEBHOOK_READ_TIMEOUT": "0s"},
		"no idle timeout":  {"STRIPE_WEBHOOK_SECRETS": secretA, "WEBHOOK_IDLE_TIMEOUT": "-1s"},
		"write before ack": {"STRIPE_WEBHOOK_SECRETS": secretA, "WEBHOOK_WRITE_TIMEOUT": "5s", "PUBLISH_TIMEOUT": "5s"},
		"no connections":   {"STRIPE_WEBHOOK_SECRETS": secretA, "WEBHOOK_MAX_CONNECTIONS": "0"},
	} {
		t.Run(name, func(t *testing.T) {
			for k, v := range env {
				t.Setenv(k, v)
			}
			_, err := service.Load[Config](context.Background())
			if err == nil {
				t.Fatalf("Load accepted %v", env)
			}
			for _, s := range strings.Split(env["STRIPE_WEBHOOK_SECRETS"], ",") {
				if s != "" && strings.Contains(err.Error(), s) {
					t.Errorf("the error shows a secret: %v", err)
				}
			}
		})
	}
}

// The server's limits are the settings', the header's read timeout the
// whole request's.
func TestLimitsFromSettings(t *testing.T) {
	got := Config{ReadTimeout: 3 * time.Second, WriteTimeout: 7 * time.Second, IdleTimeout: time.Minute, MaxConnections: 12}.Limits()
	if got.ReadHeaderTimeout != 3*time.Second || got.ReadTimeout != 3*time.Second || got.WriteTimeout != 7*time.Second ||
		got.IdleTimeout != time.Minute || got.MaxConns != 12 || got.MaxHeaderBytes != 16<<10 {
		t.Fatalf("limits %+v", got)
	}
}
