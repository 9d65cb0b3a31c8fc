package devstack

import (
	"strings"
	"testing"

	"github.com/stripeline/stripeline/pkg/secret"
)

// The secrets a stack generates pass the services' checks; a placeholder
// given to it is refused by name before any service starts.
func TestStackSecrets(t *testing.T) {
	c := StackConfig{DatabaseURL: "postgres://127.0.0.1/x"}
	if err := c.setDefaults(); err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct {
		name, value string
		min         int
	}{
		{"STRIPE_SECRET_KEY", c.StripeSecretKey, secret.MinStripeKey},
		{"API_KEYS", c.APIKey, secret.MinAPIKey},
		{"STRIPE_WEBHOOK_SECRETS", c.WebhookSecret, secret.MinWebhookSecret},
		{"SUBSCRIPTION_TOKEN_SECRET", c.SubscriptionTokenSecret, secret.MinTokenSecret},
	} {
		if err := secret.Check(s.name, s.value, s.min); err != nil {
			t.Errorf("generated: %v", err)
		}
	}
	if !strings.HasPrefix(c.StripeSecretKey, "sk_test_") {
		t.Errorf("generated STRIPE_SECRET_KEY is not an sk_test_ key (stripe-mock takes those)")
	}

	bad := StackConfig{DatabaseURL: "postgres://127.0.0.1/x", APIKey: "placeholder-api-key-change-me"}
	if err := bad.setDefaults(); err == nil || !strings.Contains(err.Error(), "API_KEYS is a placeholder") {
		t.Fatalf("setDefaults with a placeholder API key = %v", err)
	}
}

// Every service gets an ops address of its own, in its environment under
// its *_OPS_ADDR setting, and the stack waits on it.
func TestStackOpsAddrs(t *testing.T) {
	c := StackConfig{DatabaseURL: "postgres://127.0.0.1/x", OpsAddrs: map[string]string{"api": "127.0.0.1:19080"}}
	if err := c.setDefaults(); err != nil {
		t.Fatal(err)
	}
	s := &Stack{Config: c}
	env := strings.Join(s.Env(), "\n") + "\n"
	seen := map[string]bool{}
	for _, name := range Services {
		v := OpsAddrVar(name)
		want := strings.TrimPrefix(s.OpsURL(name), "http://")
		if !strings.Contains(env, v+"="+want+"\n") {
			t.Errorf("%s: Env() lacks %s=%s:\n%s", name, v, want, env)
		}
		if seen[want] {
			t.Errorf("%s: ops address %s is another's", name, want)
		}
		seen[want] = true
		if name != "event-writer" && want == c.Addrs[name] {
			t.Errorf("%s: ops address is its public address %s", name, want)
		}
	}
	if s.OpsURL("api") != "http://127.0.0.1:19080" {
		t.Errorf("OpsURL(api) = %s, want the given address", s.OpsURL("api"))
	}
	if OpsAddrVar("event-writer") != "EVENT_WRITER_ADDR" || OpsAddrVar("webhook-ingest") != "WEBHOOK_INGEST_OPS_ADDR" {
		t.Errorf("OpsAddrVar: %s, %s", OpsAddrVar("event-writer"), OpsAddrVar("webhook-ingest"))
	}
}

// Each service gets only the secrets it reads.
func TestOnlyItsSecrets(t *testing.T) {
	env := []string{"KAFKA_TOPIC=t", "STRIPE_SECRET_KEY=sk", "API_KEYS=k", "SUBSCRIPTION_TOKEN_SECRET=s", "STRIPE_WEBHOOK_SECRETS=w"}
	for service, want := range map[string]string{
		"api":            "KAFKA_TOPIC=t STRIPE_SECRET_KEY=sk API_KEYS=k SUBSCRIPTION_TOKEN_SECRET=s",
		"webhook-ingest": "KAFKA_TOPIC=t STRIPE_WEBHOOK_SECRETS=w",
		"notifier":       "KAFKA_TOPIC=t SUBSCRIPTION_TOKEN_SECRET=s",
		"event-writer":   "KAFKA_TOPIC=t",
	} {
		if got := strings.Join(OnlyItsSecrets(service, env), " "); got != want {
			t.Errorf("%s gets %q, want %q", service, got, want)
		}
	}
}
