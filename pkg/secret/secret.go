// Package secret is the one check every service makes of its secrets before
// it starts: set, not a known placeholder, and long enough to be secret. A
// service that fails it refuses to start (fail closed), so a deployment that
// forgot to set a secret never runs on a value anyone can read in this
// repository.
package secret

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// The shortest secret each setting takes. A shorter one is a typo, a test
// value or a guessable word, not a generated secret.
const (
	// MinAPIKey is an API_KEYS key's: `openssl rand -hex 32` gives 64.
	MinAPIKey = 16
	// MinTokenSecret is SUBSCRIPTION_TOKEN_SECRET's (api and notifier): an
	// HMAC-SHA256 key, so 32 bytes are its full strength.
	MinTokenSecret = 32
	// MinWebhookSecret is a STRIPE_WEBHOOK_SECRETS secret's; Stripe's are
	// "whsec_" and 32 characters of base64.
	MinWebhookSecret = 16
	// MinStripeKey is STRIPE_SECRET_KEY's; Stripe's are sk_/rk_, the mode
	// and 99 characters or more. stripe-mock takes any sk_test_ key.
	MinStripeKey = 16
)

// Placeholders are the values .env.example shipped with before its secrets
// were left empty: copies of it still hold them.
var Placeholders = []string{
	"sk_test_placeholder",
	"placeholder-api-key-change-me",
	"whsec_placeholder",
	"placeholder-change-me-32-characters",
}

// markers, anywhere in a value and in any case, make it a placeholder.
var markers = []string{"placeholder", "change-me", "change_me", "changeme", "replace-me", "replace_me"}

// IsPlaceholder reports whether value is a known placeholder or is marked as one.
func IsPlaceholder(value string) bool {
	if slices.Contains(Placeholders, value) {
		return true
	}
	lower := strings.ToLower(value)
	for _, m := range markers {
		if strings.Contains(lower, m) {
			return true
		}
	}
	return false
}

// Check reports why value cannot be the secret the setting name holds:
// empty, a placeholder, or shorter than minLen characters. The error names
// the setting and never quotes the value: operators' logs are not the place
// for a secret, even a wrong one.
func Check(name, value string, minLen int) error {
	switch {
	case value == "":
		return fmt.Errorf("%s is required", name)
	case IsPlaceholder(value):
		return fmt.Errorf("%s is a placeholder (a value from .env.example or marked placeholder/change-me), not a secret: generate one (see .env.example)", name)
	case len(value) < minLen:
		return fmt.Errorf("%s is too short to be secret: %d characters, at least %d (see .env.example to generate one)", name, len(value), minLen)
	}
	return nil
}

// Names are the settings that hold secrets: logs never show their values.
var Names = []string{"STRIPE_SECRET_KEY", "API_KEYS", "SUBSCRIPTION_TOKEN_SECRET", "STRIPE_WEBHOOK_SECRETS"}

// Masked is value as a log may show it: a secret setting's value is
// reduced to whether it is set, a URL's password to xxxxx.
func Masked(name, value string) string {
	if slices.Contains(Names, name) {
		if value == "" {
			return ""
		}
		return "(set)"
	}
	if u, err := url.Parse(value); err == nil && u.User != nil {
		if _, has := u.User.Password(); has {
			return u.Redacted()
		}
	}
	return value
}
