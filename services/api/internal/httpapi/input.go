package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

const maxBody = 64 << 10

// Stripe's limits (https://docs.stripe.com/api/metadata and idempotent requests).
const (
	maxMetadataKeys     = 50
	maxMetadataKeyLen   = 40
	maxMetadataValueLen = 500
	maxIDLen            = 255
)

// amount reads a positive integer of minor units. It is kept raw so that
// 20.5, 2e3 and "2000" are each refused with a message of their own
// instead of being rounded or coerced.
func amount(raw json.RawMessage) (int64, error) {
	s := string(bytes.TrimSpace(raw))
	const unit = "in the currency's minor unit (2000 = $20.00)"
	switch {
	case s == "" || s == "null":
		return 0, fieldError{"amount", "is required: a positive integer " + unit}
	case strings.HasPrefix(s, `"`):
		return 0, fieldError{"amount", "must be a JSON number, not a string: a positive integer " + unit}
	case s[0] != '-' && (s[0] < '0' || s[0] > '9'):
		return 0, fieldError{"amount", "must be a JSON number: a positive integer " + unit + ", got " + s}
	case strings.ContainsAny(s, ".eE"):
		return 0, fieldError{"amount", "must be an integer " + unit + ", got " + s}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if errors.Is(err, strconv.ErrRange) {
		return 0, fieldError{"amount", "is out of range, got " + s}
	}
	if err != nil {
		return 0, fieldError{"amount", "must be a JSON number: a positive integer " + unit}
	}
	if n <= 0 {
		return 0, fieldError{"amount", "must be positive, got " + s}
	}
	return n, nil
}

// currency checks the request's currency against the allow-list; empty
// means the configured default.
func (h *Handler) currency(c string) (string, error) {
	if c == "" {
		return "", nil
	}
	c = strings.ToLower(c)
	if len(c) != 3 || strings.Trim(c, "abcdefghijklmnopqrstuvwxyz") != "" {
		return "", fieldError{"currency", fmt.Sprintf("must be a 3-letter ISO currency code, got %q", c)}
	}
	if !slices.Contains(h.cfg.Currencies, c) {
		return "", fieldError{"currency", fmt.Sprintf("%s is not accepted here; accepted: %s", c, strings.Join(h.cfg.Currencies, ", "))}
	}
	return c, nil
}

// controlRule says what hasControl refuses.
const controlRule = " (U+0000–U+001F, U+007F–U+009F: a newline, a tab, an escape…); Stripe shows these texts in its dashboard, receipts and exports, where such characters forge lines or terminal escapes"

// hasControl reports whether s holds a control character (Unicode Cc).
func hasControl(s string) bool {
	return strings.IndexFunc(s, unicode.IsControl) >= 0
}

// description refuses control characters in a payment's description.
func description(s string) error {
	if hasControl(s) {
		return fieldError{"description", "holds a control character" + controlRule}
	}
	return nil
}

// metadata enforces Stripe's limits here, so the client learns which rule
// it broke without a round trip to Stripe.
func metadata(m map[string]string) error {
	if len(m) > maxMetadataKeys {
		return fieldError{"metadata", fmt.Sprintf("has %d keys; at most %d are allowed", len(m), maxMetadataKeys)}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys) // the first broken rule reported is the same every time
	for _, k := range keys {
		switch {
		case k == "":
			return fieldError{"metadata", "keys must not be empty"}
		case utf8.RuneCountInString(k) > maxMetadataKeyLen:
			return fieldError{"metadata", fmt.Sprintf("key %q is over %d characters", k, maxMetadataKeyLen)}
		case strings.ContainsAny(k, "[]"):
			return fieldError{"metadata", fmt.Sprintf("key %q must not contain square brackets", k)}
		case utf8.RuneCountInString(m[k]) > maxMetadataValueLen:
			return fieldError{"metadata", fmt.Sprintf("value of key %q is over %d characters", k, maxMetadataValueLen)}
		case hasControl(k):
			return fieldError{"metadata", fmt.Sprintf("key %q holds a control character", k) + controlRule}
		case hasControl(m[k]):
			return fieldError{"metadata", fmt.Sprintf("value of key %q holds a control character", k) + controlRule}
		}
	}
	return nil
}

// bodyField is the JSON name of a field as the client sent it: without the
// embedded struct encoding/json puts in front ("paymentBody.metadata").
func bodyField(field string) string { return strings.TrimPrefix(field, "paymentBody.") }

// errEmptyBody is decode's error for a request without a body.
var errEmptyBody = requestError{http.StatusBadRequest, "invalid_json", "request body is empty; send a JSON object"}

func decode(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &tooBig):
			return requestError{http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("request body is over %d bytes", maxBody)}
		case errors.As(err, &typeErr) && bodyField(typeErr.Field) == "metadata" && typeErr.Type.Kind().String() == "string":
			return fieldError{"metadata", "values must be JSON strings"}
		case errors.As(err, &typeErr):
			return fieldError{bodyField(typeErr.Field), "must be a JSON " + jsonKind(typeErr.Type.Kind().String()) + ", not " + typeErr.Value}
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return fieldError{strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`), "is not a known field"}
		case errors.Is(err, io.EOF):
			return errEmptyBody
		default:
			return requestError{http.StatusBadRequest, "invalid_json", "request body is not valid JSON: " + err.Error()}
		}
	}
	if dec.More() {
		return requestError{http.StatusBadRequest, "invalid_json", "request body has data after the JSON object"}
	}
	return nil
}

func jsonKind(goKind string) string {
	switch goKind {
	case "map", "struct":
		return "object"
	case "slice", "array":
		return "array"
	case "bool":
		return "boolean"
	case "string":
		return "string"
	default:
		return "number"
	}
}
