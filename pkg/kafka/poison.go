package kafka

import (
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
)

// The poison topic (Config.PoisonTopic) holds what can never be stored. A
// poison message is the original one, body, key and headers as they came,
// with watermill's poison headers and two of ours added
// (docs/design.md, "Poison topic").
const (
	// HeaderPoisonReason is "<reason>: <detail>", reason one of the Reason
	// constants.
	HeaderPoisonReason     = middleware.ReasonForPoisonedKey
	HeaderPoisonTopic      = middleware.PoisonedTopicKey
	HeaderPoisonHandler    = middleware.PoisonedHandlerKey
	HeaderPoisonSubscriber = middleware.PoisonedSubscriberKey
	HeaderPoisonPartition  = "partition_poisoned"
	HeaderPoisonOffset     = "offset_poisoned"
)

// Reasons a message is poison.
const (
	// ReasonNotAnEvent: the body is not a Stripe event (ErrNotAnEvent).
	ReasonNotAnEvent = "not_an_event"
	// ReasonUnstorable: PostgreSQL refuses the event even with its body
	// stored raw (a NUL byte in an id or type).
	ReasonUnstorable = "unstorable"
	// ReasonPanic: handling the message panicked.
	ReasonPanic = "handler_panic"
)

// Reasons lists every reason.
var Reasons = []string{ReasonNotAnEvent, ReasonUnstorable, ReasonPanic}

// PoisonHeaders are the headers a poison message has beyond the original's.
var PoisonHeaders = []string{HeaderPoisonReason, HeaderPoisonTopic, HeaderPoisonHandler,
	HeaderPoisonSubscriber, HeaderPoisonPartition, HeaderPoisonOffset}

// PoisonError is a handler's verdict that a message will never be handled:
// PoisonQueue sets it aside instead of retrying it.
type PoisonError struct {
	Reason string
	Err    error
}

func (e *PoisonError) Error() string { return e.Reason + ": " + e.Err.Error() }
func (e *PoisonError) Unwrap() error { return e.Err }

// Poison wraps err as a PoisonError for reason.
func Poison(reason string, err error) error { return &PoisonError{Reason: reason, Err: err} }

// IsPoison reports whether err, or an error it wraps, is a PoisonError.
func IsPoison(err error) bool {
	var pe *PoisonError
	return errors.As(err, &pe)
}

// PoisonReason is the reason of a poison message (its HeaderPoisonReason up
// to the first colon).
func PoisonReason(md message.Metadata) string {
	reason, _, _ := strings.Cut(md.Get(HeaderPoisonReason), ":")
	return reason
}

// PoisonQueue is watermill's PoisonQueueWithFilter for this contract: a
// handler's PoisonError, or a panic (watermill's Recoverer must run inside
// it), sends the message to topic through pub and acks it; every other
// error passes on, to be retried. The message keeps its key (Marshaler) and
// gets its source partition and offset besides watermill's headers.
func PoisonQueue(pub message.Publisher, topic string) (message.HandlerMiddleware, error) {
	pq, err := middleware.PoisonQueueWithFilter(pub, topic, IsPoison)
	if err != nil {
		return nil, err
	}
	return func(h message.HandlerFunc) message.HandlerFunc {
		return pq(func(msg *message.Message) ([]*message.Message, error) {
			out, err := h(msg)
			var panicked middleware.RecoveredPanicError
			if err != nil && !IsPoison(err) && errors.As(err, &panicked) {
				err = Poison(ReasonPanic, err)
			}
			if IsPoison(err) {
				pos := PositionOf(msg.Context())
				msg.Metadata.Set(HeaderPoisonPartition, strconv.Itoa(int(pos.Partition)))
				msg.Metadata.Set(HeaderPoisonOffset, strconv.FormatInt(pos.Offset, 10))
			}
			return out, err
		})
	}, nil
}

// Unpoisoned is a poison message as it was before it was set aside: the
// same UUID, body and headers, without the poison headers, and in msg's
// context, so Marshaler gives it the key it came with.
func Unpoisoned(msg *message.Message) *message.Message {
	out := message.NewMessage(msg.UUID, msg.Payload)
	for k, v := range msg.Metadata {
		if !slices.Contains(PoisonHeaders, k) {
			out.Metadata.Set(k, v)
		}
	}
	out.SetContext(msg.Context())
	return out
}
