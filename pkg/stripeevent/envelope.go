// Package stripeevent reads the few fields of a Stripe event that routing and
// storage need, without re-encoding the body: the raw bytes stay the source of truth.
package stripeevent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// Envelope is what the pipeline knows about an event besides its raw body.
type Envelope struct {
	ID         string    // evt_…
	Type       string    // charge.succeeded, …
	ObjectID   string    // data.object.id: the transaction id
	ObjectType string    // data.object.object
	RelatedIDs []string  // payment_intent, charge, invoice, customer, … of data.object
	Livemode   bool      // livemode
	APIVersion string    // api_version, as sent (may be empty)
	Account    string    // Connect account, when present
	Created    time.Time // created
}

// ErrInvalid is wrapped by every error Parse returns: the body is not an event.
var ErrInvalid = errors.New("not a stripe event")

// wireObject holds the spans of the members of data.object that routing needs.
type wireObject struct {
	ID     json.RawMessage
	Object json.RawMessage
	// Related objects a subscriber of the transaction also cares about; each
	// may be a string id or an expanded object.
	PaymentIntent, Charge, LatestCharge, Invoice, Customer, Subscription json.RawMessage
}

func (o *wireObject) related() [6]json.RawMessage {
	return [6]json.RawMessage{o.PaymentIntent, o.Charge, o.LatestCharge, o.Invoice, o.Customer, o.Subscription}
}

// member is where a data.object member goes, or nil.
func (o *wireObject) member(key []byte) *json.RawMessage {
	switch string(key) {
	case "id":
		return &o.ID
	case "object":
		return &o.Object
	case "payment_intent":
		return &o.PaymentIntent
	case "charge":
		return &o.Charge
	case "latest_charge":
		return &o.LatestCharge
	case "invoice":
		return &o.Invoice
	case "customer":
		return &o.Customer
	case "subscription":
		return &o.Subscription
	}
	return nil
}

// wireEvent is what Parse reads of the body. Members are matched exactly, as
// Stripe writes them, and the last of a repeated member wins.
type wireEvent struct {
	ID, Type, Account string
	APIVersion        *string
	Created           int64
	Livemode          bool
	Object            *wireObject // nil: no data, or no data.object
}

// Parse reads an event body. It fails with ErrInvalid when the body is not JSON
// or lacks id, type or data.object.id.
func Parse(body []byte) (Envelope, error) {
	w, err := read(body)
	if err != nil {
		return Envelope{}, fmt.Errorf("%w: body is not a JSON object: %v", ErrInvalid, err)
	}
	return w.envelope()
}

// envelope checks the members an event must have and derives the rest.
func (w *wireEvent) envelope() (Envelope, error) {
	switch {
	case w.ID == "":
		return Envelope{}, fmt.Errorf("%w: missing id", ErrInvalid)
	case w.Type == "":
		return Envelope{}, fmt.Errorf("%w: missing type", ErrInvalid)
	case w.Object == nil:
		return Envelope{}, fmt.Errorf("%w: missing data.object", ErrInvalid)
	}
	obj := w.Object
	objectID := idOf(obj.ID)
	if objectID == "" {
		return Envelope{}, fmt.Errorf("%w: missing data.object.id", ErrInvalid)
	}
	env := Envelope{
		ID:         w.ID,
		Type:       w.Type,
		ObjectID:   objectID,
		ObjectType: stringOf(obj.Object),
		Livemode:   w.Livemode,
		Account:    w.Account,
	}
	if w.APIVersion != nil {
		env.APIVersion = *w.APIVersion
	}
	if w.Created > 0 {
		env.Created = time.Unix(w.Created, 0).UTC()
	}
	for _, raw := range obj.related() {
		if id := idOf(raw); id != "" && id != objectID && !slices.Contains(env.RelatedIDs, id) {
			env.RelatedIDs = append(env.RelatedIDs, id)
		}
	}
	return env, nil
}

// read decodes the members Parse needs with encoding/json. Members are
// matched by their exact names, as Stripe writes them (a struct would match
// "ID" too), and the last of a repeated member wins. A member of the wrong
// type is an error; null is the member's zero value.
func read(body []byte) (wireEvent, error) {
	var w wireEvent
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return w, err
	}
	if top == nil {
		return w, errors.New("the body is null")
	}
	decode := func(key string, raw json.RawMessage, v any) error {
		if raw == nil || bytes.Equal(raw, []byte("null")) {
			return nil
		}
		if err := json.Unmarshal(raw, v); err != nil {
			return fmt.Errorf("member %q has the wrong type", key)
		}
		return nil
	}
	var apiVersion string
	var data map[string]json.RawMessage
	err := errors.Join(
		decode("id", top["id"], &w.ID), decode("type", top["type"], &w.Type),
		decode("account", top["account"], &w.Account), decode("api_version", top["api_version"], &apiVersion),
		decode("created", top["created"], &w.Created), decode("livemode", top["livemode"], &w.Livemode),
		decode("data", top["data"], &data))
	if err != nil {
		return w, err
	}
	if raw, ok := top["api_version"]; ok && !bytes.Equal(raw, []byte("null")) {
		w.APIVersion = &apiVersion
	}
	var object map[string]json.RawMessage
	if err := decode("data.object", data["object"], &object); err != nil {
		return w, err
	}
	if object != nil {
		w.Object = &wireObject{}
		for k, raw := range object {
			if dst := w.Object.member([]byte(k)); dst != nil {
				*dst = raw
			}
		}
	}
	return w, nil
}

// idOf reads a Stripe reference: a string id, or an expanded object with an id.
func idOf(raw json.RawMessage) string {
	if s := stringOf(raw); s != "" {
		return s
	}
	var o struct {
		ID string `json:"id"`
	}
	if len(raw) > 0 && raw[0] == '{' && json.Unmarshal(raw, &o) == nil {
		return o.ID
	}
	return ""
}

func stringOf(raw json.RawMessage) string {
	if len(raw) == 0 || raw[0] != '"' {
		return ""
	}
	s, err := strconv.Unquote(string(raw))
	if err != nil {
		var out string
		if json.Unmarshal(raw, &out) != nil {
			return ""
		}
		return out
	}
	return s
}

// IDs is every id a subscriber can select the event by: the object id first,
// then the related ids.
func (e Envelope) IDs() []string {
	return append([]string{e.ObjectID}, e.RelatedIDs...)
}
