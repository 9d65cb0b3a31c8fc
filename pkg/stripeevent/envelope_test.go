package stripeevent

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"
)

func TestParse(t *testing.T) {
	body := []byte(`{"id":"evt_1","object":"event","type":"charge.succeeded","api_version":"2099-01-01.future",
		"created":1700000000,"livemode":true,"account":"acct_9",
		"data":{"object":{"id":"ch_1","object":"charge","payment_intent":"pi_1","customer":{"id":"cus_1","object":"customer"},"invoice":null}}}`)
	got, err := Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	want := Envelope{ID: "evt_1", Type: "charge.succeeded", ObjectID: "ch_1", ObjectType: "charge",
		RelatedIDs: []string{"pi_1", "cus_1"}, Livemode: true, APIVersion: "2099-01-01.future", Account: "acct_9",
		Created: time.Unix(1700000000, 0).UTC()}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Parse =\n%+v\nwant\n%+v", got, want)
	}
	if ids := got.IDs(); !reflect.DeepEqual(ids, []string{"ch_1", "pi_1", "cus_1"}) {
		t.Fatalf("IDs = %v", ids)
	}
}

func TestParseRejects(t *testing.T) {
	for name, body := range map[string]string{
		"not json":          `nope`,
		"array":             `[1]`,
		"no id":             `{"type":"x","data":{"object":{"id":"ch_1"}}}`,
		"no type":           `{"id":"evt_1","data":{"object":{"id":"ch_1"}}}`,
		"no data":           `{"id":"evt_1","type":"x"}`,
		"no object":         `{"id":"evt_1","type":"x","data":{}}`,
		"object without id": `{"id":"evt_1","type":"x","data":{"object":{"object":"charge"}}}`,
		"trailing":          `{"id":"evt_1","type":"x","data":{"object":{"id":"ch_1"}}} {}`,
		"id not a string":   `{"id":1,"type":"x","data":{"object":{"id":"ch_1"}}}`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse([]byte(body)); !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse(%s) error = %v, want ErrInvalid", body, err)
			}
		})
	}
}

func TestSignVerifiesWithStripeGo(t *testing.T) {
	body := []byte(`{"id":"evt_1"}`)
	h := Sign(body, time.Now(), "whsec_a", "whsec_b")
	for _, s := range []string{"whsec_a", "whsec_b"} {
		if err := webhook.ValidatePayload(body, h, s); err != nil {
			t.Errorf("secret %s: %v", s, err)
		}
	}
	if err := webhook.ValidatePayload(body, h, "whsec_c"); err == nil {
		t.Error("a signature verified with a secret it was not made with")
	}
}

// The rules encoding/json leaves to us: exact member names, the last of a
// repeated member, null as the zero value, wrong types refused.
func TestParseMemberRules(t *testing.T) {
	for _, c := range []struct {
		body, wantID, wantObject string // wantID "" means Parse refuses it
	}{
		{`{"id":"evt_1","type":"x","data":{"object":{"id":"ch_1"}},"id":"evt_2"}`, "evt_2", "ch_1"},
		{`{"id":"evt_1","type":"x","data":{"object":{"id":"ch_1"},"object":{"id":"ch_2"}}}`, "evt_1", "ch_2"},
		{`{"ID":"evt_1","type":"x","data":{"object":{"id":"ch_1"}}}`, "", ""},
		{`{"id":"evt_1","type":"x","data":{"object":{"id":"ch_1"}},"data":null}`, "", ""},
		{`{"id":5,"type":"x","data":{"object":{"id":"ch_1"}}}`, "", ""},
		{`{"id":"evt_1","type":"x","created":1.5,"data":{"object":{"id":"ch_1"}}}`, "", ""},
		{`{"id":"evt_1","type":"x","livemode":"true","data":{"object":{"id":"ch_1"}}}`, "", ""},
		{`{"id":"evt_1","type":"x","livemode":null,"api_version":null,"data":{"object":{"id":"ch_1"}}}`, "evt_1", "ch_1"},
		{`{"id":"evt_1","type":"x","data":{"object":{"id":"ch_1"}}}x`, "", ""},
		{`{"id":"evt_1","type":"x","data":{"object":{"id":{"id":"ch_9"}}}}`, "evt_1", "ch_9"},
		// Valid JSON that jsonb refuses: Parse accepts it, as Stripe's
		// JSON and encoding/json do.
		{`{"id":"evt_1","type":"x","n":1e1000000,"s":"\u0000\ud800","data":{"object":{"id":"ch_1"}}}`, "evt_1", "ch_1"},
	} {
		env, err := Parse([]byte(c.body))
		if c.wantID == "" {
			if err == nil {
				t.Errorf("Parse(%s) = %+v; want an error", c.body, env)
			}
			continue
		}
		if err != nil || env.ID != c.wantID || env.ObjectID != c.wantObject {
			t.Errorf("Parse(%s) = %s %s, %v; want %s %s", c.body, env.ID, env.ObjectID, err, c.wantID, c.wantObject)
		}
	}
}
