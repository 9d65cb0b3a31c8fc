package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/stripeline/stripeline/pkg/pgstore"
)

const maxEventPage = 100

func (h *Handler) config(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"publishable_key": h.cfg.PublishableKey,
		"currency":        h.cfg.Currency,
		"currencies":      h.cfg.Currencies,
	})
}

// eventRow is one stored event as GET /Stripe/events shows it.
type eventRow struct {
	EventID    string          `json:"event_id"`
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	ObjectType string          `json:"object_type,omitempty"`
	RelatedIDs []string        `json:"related_ids"`
	Livemode   bool            `json:"livemode"`
	APIVersion string          `json:"api_version,omitempty"`
	Created    *time.Time      `json:"created"`
	ReceivedAt time.Time       `json:"received_at"`
	Payload    json.RawMessage `json:"payload"`
	// A body PostgreSQL's jsonb refused is kept as it came: payload is
	// null, payload_raw its bytes (base64), payload_error why.
	PayloadRaw   []byte `json:"payload_raw,omitempty"`
	PayloadError string `json:"payload_error,omitempty"`
}

type eventList struct {
	Object     string     `json:"object"`
	Data       []eventRow `json:"data"`
	HasMore    bool       `json:"has_more"`
	NextCursor string     `json:"next_cursor,omitempty"`
}

var eventParams = map[string]bool{"id": true, "cursor": true, "limit": true, "related": true, "token": true}

func (h *Handler) listEvents(w http.ResponseWriter, r *http.Request) {
	q, err := h.eventQuery(r)
	var page pgstore.EventPage
	if err == nil {
		page, err = h.events.EventsByID(r.Context(), q)
		if errors.Is(err, pgstore.ErrBadCursor) {
			err = fieldError{"cursor", "is not a cursor this api issued for this id; start again without one"}
		} else if err != nil {
			err = storeError{err}
		}
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := eventList{Object: "list", Data: make([]eventRow, 0, len(page.Events)), HasMore: page.Next != "", NextCursor: page.Next}
	for _, e := range page.Events {
		row := eventRow{
			EventID: e.ID, ID: e.ObjectID, Type: e.Type, ObjectType: e.ObjectType, RelatedIDs: e.RelatedIDs,
			Livemode: e.Livemode, APIVersion: e.APIVersion, ReceivedAt: e.ReceivedAt.UTC(), Payload: e.Payload,
			PayloadRaw: e.Raw, PayloadError: e.PayloadError,
		}
		if !e.Created.IsZero() {
			c := e.Created.UTC()
			row.Created = &c
		}
		if row.RelatedIDs == nil {
			row.RelatedIDs = []string{}
		}
		out.Data = append(out.Data, row)
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) eventQuery(r *http.Request) (pgstore.EventQuery, error) {
	v := r.URL.Query()
	for name := range v {
		if !eventParams[name] {
			return pgstore.EventQuery{}, fieldError{name, "is not a known query parameter"}
		}
	}
	q := pgstore.EventQuery{ID: v.Get("id"), Cursor: v.Get("cursor"), Limit: pgstore.DefaultEventPage}
	if q.ID == "" {
		return q, fieldError{"id", "is required: the transaction id (ch_…, pi_…) whose events to list"}
	}
	if len(q.ID) > maxIDLen {
		return q, fieldError{"id", "is too long"}
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxEventPage {
			return q, fieldError{"limit", fmt.Sprintf("must be an integer from 1 to %d, got %q", maxEventPage, s)}
		}
		q.Limit = n
	}
	if s := v.Get("related"); s != "" {
		related, err := strconv.ParseBool(s)
		if err != nil {
			return q, fieldError{"related", fmt.Sprintf("must be true or false, got %q", s)}
		}
		q.OnlyID = !related
	}
	return q, h.subscriptionToken(r, q.ID)
}

// subscriptionToken checks, unless EventsRequireToken is off, that the
// request carries the subscription token of id: API keys ship inside apps,
// so reading one transaction takes the proof of having made it.
func (h *Handler) subscriptionToken(r *http.Request, id string) error {
	if !h.cfg.EventsRequireToken {
		return nil
	}
	return h.subscriptionTokenAlways(r, id)
}

// subscriptionTokenAlways is subscriptionToken whatever
// API_EVENTS_REQUIRE_TOKEN says: for the routes that act on a payment.
func (h *Handler) subscriptionTokenAlways(r *http.Request, id string) error {
	token := r.Header.Get("X-Subscription-Token")
	if token == "" {
		token = r.URL.Query().Get("token")
	}
	if token == "" {
		return authError{"missing_subscription_token", "the subscription token of this id is required (the subscribe.token of the charge or PaymentIntent answer), in X-Subscription-Token or ?token="}
	}
	if _, err := h.cfg.TokenKeys.Verify(token, id, time.Now()); err != nil {
		return tokenError{err}
	}
	return nil
}
