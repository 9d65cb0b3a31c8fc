package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/stripeline/stripeline/pkg/pgstore"
)

// timelineLimit is the most events a transaction's answer lists; the rest
// are on GET /Stripe/events.
const timelineLimit = 100

// transactionAnswer is GET /Stripe/transactions/{id}: where the object
// stands (stripe_objects, newer-wins) and the events that got it there.
type transactionAnswer struct {
	Object       string          `json:"object"` // "transaction"
	ID           string          `json:"id"`
	Type         string          `json:"type,omitempty"`
	Status       string          `json:"status,omitempty"`
	State        json.RawMessage `json:"state"`
	EventID      string          `json:"event_id"`
	EventType    string          `json:"event_type"`
	EventCreated time.Time       `json:"event_created"`
	Livemode     bool            `json:"livemode"`
	UpdatedAt    time.Time       `json:"updated_at"`
	Timeline     []timelineEntry `json:"timeline"`
	// TimelineHasMore says the timeline stops at timelineLimit events.
	TimelineHasMore bool `json:"timeline_has_more"`
}

type timelineEntry struct {
	EventID    string     `json:"event_id"`
	Type       string     `json:"type"`
	ObjectID   string     `json:"object_id"`
	Status     string     `json:"status,omitempty"`
	Created    *time.Time `json:"created"`
	ReceivedAt time.Time  `json:"received_at"`
}

var transactionParams = map[string]bool{"token": true}

func (h *Handler) transaction(w http.ResponseWriter, r *http.Request) {
	out, err := h.readTransaction(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) readTransaction(r *http.Request) (transactionAnswer, error) {
	id := r.PathValue("id")
	for name := range r.URL.Query() {
		if !transactionParams[name] {
			return transactionAnswer{}, fieldError{name, "is not a known query parameter"}
		}
	}
	if err := objectID("id", id); err != nil {
		return transactionAnswer{}, err
	}
	if err := h.subscriptionToken(r, id); err != nil {
		return transactionAnswer{}, err
	}
	obj, err := h.events.ObjectByID(r.Context(), id)
	if errors.Is(err, pgstore.ErrNotFound) {
		return transactionAnswer{}, requestError{http.StatusNotFound, "not_found", "no event of " + id + " is stored yet"}
	}
	if err != nil {
		return transactionAnswer{}, storeError{err}
	}
	tl, more, err := h.events.Timeline(r.Context(), id, timelineLimit)
	if err != nil {
		return transactionAnswer{}, storeError{err}
	}
	var state struct {
		Status string `json:"status"`
	}
	_ = json.Unmarshal(obj.Payload, &state) // a state without a status has none to show
	out := transactionAnswer{
		Object: "transaction", ID: obj.ID, Type: obj.Type, Status: state.Status, State: obj.Payload,
		EventID: obj.EventID, EventType: obj.EventType, EventCreated: obj.EventCreated.UTC(),
		Livemode: obj.Livemode, UpdatedAt: obj.UpdatedAt.UTC(),
		Timeline: make([]timelineEntry, 0, len(tl)), TimelineHasMore: more,
	}
	for _, e := range tl {
		entry := timelineEntry{EventID: e.EventID, Type: e.Type, ObjectID: e.ObjectID, Status: e.Status, ReceivedAt: e.ReceivedAt.UTC()}
		if !e.Created.IsZero() {
			c := e.Created.UTC()
			entry.Created = &c
		}
		out.Timeline = append(out.Timeline, entry)
	}
	return out, nil
}
