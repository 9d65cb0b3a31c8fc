package ws

import (
	"encoding/json"
	"regexp"
	"strings"
)

// clientFrame is every frame a client sends.
type clientFrame struct {
	Type         string `json:"type"`
	Channel      string `json:"channel"`
	Selector     string `json:"selector"`
	Token        string `json:"token"`
	Subscription string `json:"subscription"`
}

type subscribedFrame struct {
	Type         string `json:"type"`
	Subscription string `json:"subscription"`
}

type unsubscribedFrame = subscribedFrame

type messageFrame struct {
	Type         string            `json:"type"`
	Subscription string            `json:"subscription"`
	Channel      string            `json:"channel"`
	Headers      map[string]string `json:"headers"`
	Data         json.RawMessage   `json:"data"`
}

type errorFrame struct {
	Type    string `json:"type"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Channel is the seed's channel name.
const Channel = "stripe"

// pinnedID is the selector form `id = '<id>'`.
var pinnedID = regexp.MustCompile(`^\s*id\s*=\s*'((?:[^']|'')*)'\s*$`)

// target reads what a subscribe frame asks for: the transaction id.
func target(f clientFrame) (string, *errorFrame) {
	switch {
	case f.Channel == Channel:
		m := pinnedID.FindStringSubmatch(f.Selector)
		if m == nil {
			return "", &errorFrame{"error", "bad_selector", "selector must be of the form id = '<transaction id>'"}
		}
		return strings.ReplaceAll(m[1], "''", "'"), nil
	case strings.HasPrefix(f.Channel, Channel+"/") && len(f.Channel) > len(Channel)+1:
		if f.Selector != "" {
			return "", &errorFrame{"error", "bad_request", "channel stripe/<id> takes no selector"}
		}
		return strings.TrimPrefix(f.Channel, Channel+"/"), nil
	default:
		return "", &errorFrame{"error", "bad_channel", "channel must be \"stripe\" (with a selector) or \"stripe/<transaction id>\""}
	}
}
