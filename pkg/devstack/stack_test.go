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
