package config

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stripeline/stripeline/pkg/service"
)

func TestLoadDefaults(t *testing.T) {
	t.Setenv("STRIPE_WEBHOOK_SECRETS", "whsec_a,whsec_b")
	c, err := service.Load[Config](context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.WebhookSecrets, []string{"whsec_a", "whsec_b"}) {
		t.Errorf("secrets %q", c.WebhookSecrets)
	}
	if c.Tolerance != 300*time.Second || c.MaxBody != 1<<20 || c.PublishTimeout != 5*time.Second || c.Addr != "127.0.0.1:8081" || c.KafkaMaxMessageBytes != 1000012 {
		t.Errorf("defaults: tolerance %s, max body %d, publish timeout %s, addr %s, max message %d", c.Tolerance, c.MaxBody, c.PublishTimeout, c.Addr, c.KafkaMaxMessageBytes)
	}
	if c.ReadTimeout != 10*time.Second || c.WriteTimeout != 10*time.Second || c.IdleTimeout != 2*time.Minute || c.MaxConnections != 4096 {
		t.Errorf("server defaults: read %s, write %s, idle %s, max connections %d", c.ReadTimeout, c.WriteTimeout, c.IdleTimeout, c.MaxConnections)
	}
}

func TestLoadRefuses(t *testing.T) {
	for name, env := range map[string]map[string]string{
		"no secret":        {"STRIPE_WEBHOOK_SECRETS": ""},
		"empty secret":     {"STRIPE_WEBHOOK_SECRETS": "whsec_a,"},
		"zero tolerance":   {"STRIPE_WEBHOOK_SECRETS": "whsec_a", "WEBHOOK_TOLERANCE": "0s"},
		"negative limit":   {"STRIPE_WEBHOOK_SECRETS": "whsec_a", "WEBHOOK_MAX_BODY_BYTES": "-1"},
		"no timeout":       {"STRIPE_WEBHOOK_SECRETS": "whsec_a", "PUBLISH_TIMEOUT": "0s"},
		"tiny batches":     {"STRIPE_WEBHOOK_SECRETS": "whsec_a", "KAFKA_MAX_MESSAGE_BYTES": "100"},
		"tolerance typo'd": {"STRIPE_WEBHOOK_SECRETS": "whsec_a", "WEBHOOK_TOLERANCE": "300"},
		"no read timeout":  {"STRIPE_WEBHOOK_SECRETS": "whsec_a", "WEBHOOK_READ_TIMEOUT": "0s"},
		"no idle timeout":  {"STRIPE_WEBHOOK_SECRETS": "whsec_a", "WEBHOOK_IDLE_TIMEOUT": "-1s"},
		"write before ack": {"STRIPE_WEBHOOK_SECRETS": "whsec_a", "WEBHOOK_WRITE_TIMEOUT": "5s", "PUBLISH_TIMEOUT": "5s"},
		"no connections":   {"STRIPE_WEBHOOK_SECRETS": "whsec_a", "WEBHOOK_MAX_CONNECTIONS": "0"},
	} {
		t.Run(name, func(t *testing.T) {
			for k, v := range env {
				t.Setenv(k, v)
			}
			_, err := service.Load[Config](context.Background())
			if err == nil {
				t.Fatalf("Load accepted %v", env)
			}
			if strings.Contains(err.Error(), "whsec_a") {
				t.Errorf("the error shows a secret: %v", err)
			}
		})
	}
}
