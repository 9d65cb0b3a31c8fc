package ws

import (
	"encoding/json"
	"strings"

	"github.com/stripeline/stripeline/pkg/selector"
	"github.com/stripeline/stripeline/services/notifier/internal/hub"
)

// clientFrame is every frame a client sends.
type clientFrame struct {
	Type         string `json:"type"`
	Channel      string `json:"channel"`
	Selector     string `json:"selector"`
	Token        string `json:"token"`
	Subscription string `json:"subscription"`
	// Position is where a resuming subscription's client got to (the
	// position of the last frame it read); null for a new subscription.
	Position hub.Position `json:"position"`
}

type subscribedFrame struct {
	Type         string `json:"type"`
	Subscription string `json:"subscription"`
	// Position is where the subscription starts; absent for one that pins
	// no id (live events only, no resume).
	Position hub.Position `json:"position,omitempty"`
	// Recovered answers a resume: whether the window still held every event
	// after its position.
	Recovered *bool `json:"recovered,omitempty"`
}

type errorFrame struct {
	Type    string `json:"type"`
	Code    string `json:"code"`
	Message string `json:"message"`
	// Subscription is the subscription the error ended (token_expired).
	Subscription string `json:"subscription,omitempty"`
}

// refreshedFrame answers a refresh: the subscription lasts until ExpiresAt
// (RFC 3339; empty when tokens are not required and nothing expires).
type refreshedFrame struct {
	Type         string `json:"type"`
	Subscription string `json:"subscription"`
	ExpiresAt    string `json:"expires_at,omitempty"`
}

func (e errorFrame) encode() []byte {
	b, _ := json.Marshal(e) // strings always encode
	return b
}

// messagePrefix is the start of a subscription's message frames, up to the
// headers: {"type":"message","subscription":"s1","channel":"stripe"
func messagePrefix(id, channel string) []byte {
	sub, _ := json.Marshal(id)
	ch, _ := json.Marshal(channel)
	return []byte(`{"type":"message","subscription":` + string(sub) + `,"channel":` + string(ch))
}

// Channel is the seed's channel name.
const Channel = "stripe"

// parseTarget reads what a subscribe frame asks for as a selector:
// channel "stripe" with a selector, or "stripe/<id>", which is id = '<id>'.
func parseTarget(f clientFrame) (selector.Expr, *errorFrame) {
	switch {
	case f.Channel == Channel:
		if strings.TrimSpace(f.Selector) == "" {
			return nil, &errorFrame{Type: "error", Code: "bad_selector", Message: "channel stripe needs a selector, such as id = 'ch_…'"}
		}
		e, err := selector.Parse(f.Selector)
		if err != nil {
			return nil, &errorFrame{Type: "error", Code: "bad_selector", Message: err.Error()}
		}
		return e, nil
	case strings.HasPrefix(f.Channel, Channel+"/") && len(f.Channel) > len(Channel)+1:
		if f.Selector != "" {
			return nil, &errorFrame{Type: "error", Code: "bad_request", Message: "channel stripe/<id> takes no selector"}
		}
		return &selector.In{Field: selector.FieldID, Values: []string{strings.TrimPrefix(f.Channel, Channel+"/")}}, nil
	}
	return nil, &errorFrame{Type: "error", Code: "bad_channel", Message: "channel must be \"stripe\" (with a selector) or \"stripe/<transaction id>\""}
}
