package app

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stripeline/stripeline/pkg/subtoken"
)

// TestRenewSubscriptionToken: POST /Stripe/subscription-tokens trades a
// still-valid token of an id, with the API key, for a newer one of the same
// id; anything else is refused.
func TestRenewSubscriptionToken(t *testing.T) {
	a := startAPI(t, testConfig(t, stripeMockURL))
	for _, s := range shapes("subscription-tokens") {
		t.Run(s.name, func(t *testing.T) {
			old := subtoken.Sign([]byte(tokenSecret), "pi_r", time.Now().Add(time.Minute))
			r := a.do(t, http.MethodPost, s.path, `{"id":"pi_r","token":"`+old+`"}`, s.header)
			if r.Status != http.StatusOK {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			got := r.json(t)
			token, _ := got["token"].(string)
			exp, err := time.Parse(time.RFC3339, got["expires_at"].(string))
			if err != nil || got["selector"] != "id = 'pi_r'" || got["channel"] != "stripe" {
				t.Fatalf("answer %s (%v)", r.Body, err)
			}
			until, err := subtoken.Keys{{Secret: []byte(tokenSecret)}}.Verify(token, "pi_r", time.Now())
			if err != nil || !until.Equal(exp) || time.Until(exp) < 50*time.Minute {
				t.Fatalf("new token: expires %v (answer says %v), %v; want about an hour from now", until, exp, err)
			}
		})
	}
	for _, c := range []struct {
		name, body string
		header     map[string]string
		status     int
		code       string
	}{
		{"expired", `{"id":"pi_r","token":"` + subtoken.Sign([]byte(tokenSecret), "pi_r", time.Now().Add(-time.Second)) + `"}`, withKey, http.StatusForbidden, "subscription_token_expired"},
		{"another id's token", `{"id":"pi_r","token":"` + mintToken("pi_other") + `"}`, withKey, http.StatusForbidden, "subscription_token_wrong_id"},
		{"forged", `{"id":"pi_r","token":"` + subtoken.Sign([]byte("not the api's secret, not at all"), "pi_r", time.Now().Add(time.Hour)) + `"}`, withKey, http.StatusForbidden, "subscription_token_invalid"},
		{"no token", `{"id":"pi_r"}`, withKey, http.StatusBadRequest, "invalid_field"},
		{"no id", `{"token":"` + mintToken("pi_r") + `"}`, withKey, http.StatusBadRequest, "invalid_field"},
		{"no API key", `{"id":"pi_r","token":"` + mintToken("pi_r") + `"}`, nil, http.StatusUnauthorized, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := a.do(t, http.MethodPost, "/Stripe/subscription-tokens", c.body, c.header)
			if r.Status != c.status || !strings.Contains(string(r.Body), c.code) {
				t.Fatalf("status %d %s, want %d %s", r.Status, r.Body, c.status, c.code)
			}
		})
	}
}
