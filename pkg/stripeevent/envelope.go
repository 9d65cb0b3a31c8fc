// Package stripeevent reads the few fields of a Stripe event that routing and
// storage need, without re-encoding the body: the raw bytes stay the source of truth.
package stripeevent

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
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

type wireEvent struct {
	ID         string         `json:"id"`
	Type       string         `json:"type"`
	APIVersion *string        `json:"api_version"`
	Account    string         `json:"account"`
	Created    int64          `json:"created"`
	Livemode   bool           `json:"livemode"`
	Data       *wireEventData `json:"data"`
}

type wireEventData struct {
	Object *wireObject `json:"object"`
}

// wireObject holds only the fields of data.object that routing needs, so
// decoding skips the rest of the object without building a map of it.
type wireObject struct {
	ID     json.RawMessage `json:"id"`
	Object json.RawMessage `json:"object"`
	// Related objects a subscriber of the transaction also cares about; each
	// may be a string id or an expanded object.
	PaymentIntent json.RawMessage `json:"payment_intent"`
	Charge        json.RawMessage `json:"charge"`
	LatestCharge  json.RawMessage `json:"latest_charge"`
	Invoice       json.RawMessage `json:"invoice"`
	Customer      json.RawMessage `json:"customer"`
	Subscription  json.RawMessage `json:"subscription"`
}

func (o *wireObject) related() [6]json.RawMessage {
	return [6]json.RawMessage{o.PaymentIntent, o.Charge, o.LatestCharge, o.Invoice, o.Customer, o.Subscription}
}

// Parse reads an event body. It fails with ErrInvalid when the body is not JSON
// or lacks id, type or data.object.id.
func Parse(body []byte) (Envelope, error) {
	var w wireEvent
	if err := json.Unmarshal(body, &w); err != nil {
		return Envelope{}, fmt.Errorf("%w: body is not a JSON object: %v", ErrInvalid, err)
	}
	switch {
	case w.ID == "":
		return Envelope{}, fmt.Errorf("%w: missing id", ErrInvalid)
	case w.Type == "":
		return Envelope{}, fmt.Errorf("%w: missing type", ErrInvalid)
	case w.Data == nil || w.Data.Object == nil:
		return Envelope{}, fmt.Errorf("%w: missing data.object", ErrInvalid)
	}
	obj := w.Data.Object
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
		if id := idOf(raw); id != "" && id != objectID && !contains(env.RelatedIDs, id) {
			env.RelatedIDs = append(env.RelatedIDs, id)
		}
	}
	return env, nil
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

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// IDs is every id a subscriber can select the event by: the object id first,
// then the related ids.
func (e Envelope) IDs() []string {
	return append([]string{e.ObjectID}, e.RelatedIDs...)
}

// Kafka header names (DESIGN.md, "Kafka contract").
const (
	HeaderEventID    = "event_id"
	HeaderEventType  = "event_type"
	HeaderObjectID   = "object_id"
	HeaderObjectType = "object_type"
	HeaderRelatedIDs = "related_ids"
	HeaderLivemode   = "livemode"
	HeaderReceivedAt = "received_at"
)

// Headers is the metadata published beside the raw body.
func (e Envelope) Headers(receivedAt time.Time) map[string]string {
	return map[string]string{
		HeaderEventID:    e.ID,
		HeaderEventType:  e.Type,
		HeaderObjectID:   e.ObjectID,
		HeaderObjectType: e.ObjectType,
		HeaderRelatedIDs: strings.Join(e.RelatedIDs, ","),
		HeaderLivemode:   strconv.FormatBool(e.Livemode),
		HeaderReceivedAt: receivedAt.UTC().Format(time.RFC3339Nano),
	}
}

// ReceivedAt reads the received_at header; zero when absent or malformed.
func ReceivedAt(headers map[string]string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, headers[HeaderReceivedAt])
	if err != nil {
		return time.Time{}
	}
	return t
}
