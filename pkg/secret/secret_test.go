package secret

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		minLen      int
		want        string // a piece of the error; empty: accepted
	}{
		{"generated", "3f9c2a7d41e8b6051c9e7a2d4f8b3c6e", 32, ""},
		{"exactly the minimum", "0123456789abcdef", 16, ""},
		{"empty", "", 16, "X is required"},
		{"one short", "0123456789abcde", 16, "too short to be secret: 15 characters, at least 16"},
		{"old .env.example key", "sk_test_placeholder", 16, "placeholder"},
		{"old .env.example API key", "placeholder-api-key-change-me", 16, "placeholder"},
		{"old .env.example webhook secret", "whsec_placeholder", 16, "placeholder"},
		{"old .env.example token secret", "placeholder-change-me-32-characters", 32, "placeholder"},
		{"marked, upper case", "MY-PLACEHOLDER-0123456789abcdef", 16, "placeholder"},
		{"change-me in a long value", "sk_test_CHANGE-ME-0123456789abcdef", 16, "placeholder"},
		{"replace_me", "pk_live_replace_me_0123456789", 16, "placeholder"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Check("X", tc.value, tc.minLen)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Check(%q) = %v, want nil", tc.value, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Check(%q) = %v, want an error with %q", tc.value, err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "X ") {
				t.Errorf("the error does not start with the setting's name: %v", err)
			}
			if tc.value != "" && strings.Contains(err.Error(), tc.value) {
				t.Errorf("the error quotes the value: %v", err)
			}
		})
	}
}

// Every value .env.example shipped is refused whatever the minimum length.
func TestPlaceholdersAreRefused(t *testing.T) {
	for _, p := range Placeholders {
		if err := Check("X", p, 1); err == nil {
			t.Errorf("Check accepts %q", p)
		}
	}
}
