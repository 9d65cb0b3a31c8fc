// Package stripeevent reads the few fields of a Stripe event that routing and
// storage need, without re-encoding the body: the raw bytes stay the source of truth.
package stripeevent

import (
	"encoding/json"
	"errors"
	"fmt"
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
		if id := idOf(raw); id != "" && id != objectID && !contains(env.RelatedIDs, id) {
			env.RelatedIDs = append(env.RelatedIDs, id)
		}
	}
	return env, nil
}

// read validates body as JSON in one pass and reads the members Parse needs.
// A member of the wrong type is an error, as it was when encoding/json
// decoded the body into typed fields; null is the member's zero value.
func read(body []byte) (wireEvent, error) {
	var w wireEvent
	s := scanner{data: body}
	if s.peek() != '{' {
		if _, err := s.value(); err != nil {
			return w, err
		}
		return w, errors.New("the body is a JSON value but not an object")
	}
	err := s.object(func(key []byte) error {
		var err error
		switch string(key) {
		case "id":
			w.ID, _, err = s.stringValue()
		case "type":
			w.Type, _, err = s.stringValue()
		case "account":
			w.Account, _, err = s.stringValue()
		case "api_version":
			var v string
			var null bool
			if v, null, err = s.stringValue(); !null {
				w.APIVersion = &v
			} else {
				w.APIVersion = nil
			}
		case "created":
			w.Created, err = s.int64Value()
		case "livemode":
			w.Livemode, err = s.boolValue()
		case "data":
			w.Object, err = s.dataMember()
		default:
			_, err = s.value()
		}
		if errors.Is(err, errType) {
			return fmt.Errorf("member %q has the wrong type", key)
		}
		return err
	})
	if err != nil {
		return w, err
	}
	return w, s.end()
}

// dataMember reads the data member: an object or null.
func (s *scanner) dataMember() (*wireObject, error) {
	var obj *wireObject
	switch s.peek() {
	case 'n':
		return nil, s.literal("null")
	case '{':
	default:
		return nil, s.typeError()
	}
	err := s.object(func(key []byte) error {
		if string(key) != "object" {
			_, err := s.value()
			return err
		}
		switch s.peek() {
		case 'n':
			obj = nil
			return s.literal("null")
		case '{':
		default:
			return s.typeError()
		}
		obj = &wireObject{}
		return s.object(func(key []byte) error {
			raw, err := s.value()
			if dst := obj.member(key); dst != nil {
				*dst = raw
			}
			return err
		})
	})
	return obj, err
}

// int64Value reads an integer or null, as encoding/json decodes an int64.
func (s *scanner) int64Value() (int64, error) {
	if s.peek() == 'n' {
		return 0, s.literal("null")
	}
	c := s.peek()
	if c != '-' && !isDigit(c) {
		return 0, s.typeError()
	}
	start := s.pos
	if err := s.number(); err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(string(s.data[start:s.pos]), 10, 64)
	if err != nil {
		return 0, errType // a fraction, an exponent, or out of range
	}
	return n, nil
}

// boolValue reads true, false or null.
func (s *scanner) boolValue() (bool, error) {
	switch s.peek() {
	case 't':
		return true, s.literal("true")
	case 'f':
		return false, s.literal("false")
	case 'n':
		return false, s.literal("null")
	}
	return false, s.typeError()
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
