package bench

import (
	"io"
	"net/http"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/stripeline/stripeline/pkg/httpserver"
	"github.com/stripeline/stripeline/pkg/kafka"
)

// The floors answer the question the ratio raises: how fast could any
// webhook-ingest be on this machine, with these senders and this broker?
// Each serves the same requests as ingest, on the same HTTP server
// (pkg/httpserver, ingest's limits) and load generator, and does less than
// any correct ingest must:
//
//   - the HTTP floor (AnswerOnly) reads the request and answers 200 at once:
//     no signature, no parsing, nothing published;
//   - the produce floor (ProduceOnly) also produces the body with the
//     publisher of ingest (kafka.Publisher: acks from all
//     in-sync replicas, idempotent) and answers once the broker
//     acknowledged it. No signature, no parsing, no event headers, no
//     checks.
//
// A correct ingest cannot pass the produce floor: requirement 4 of the
// service is this acknowledgement before the 200. cmd/ingest-floor serves
// either as a process of its own for `make bench`.

var floorAnswer = []byte(`{"received":true}` + "\n")

// AnswerOnly is the HTTP floor.
func AnswerOnly(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(floorAnswer)
}

// ProduceOnly is the produce floor: it produces each body to topic and
// answers 200 once the broker acknowledged it, 503 if it failed.
func ProduceOnly(pub *kafka.Publisher, topic string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err == nil {
			err = pub.Publish(topic, message.NewMessage(watermill.NewUUID(), body))
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		AnswerOnly(w, r)
	}
}

// NewProducer is the produce floor's publisher: ingest's.
func NewProducer(brokers []string) (*kafka.Publisher, error) {
	return kafka.NewPublisher(kafka.PublisherConfig{Brokers: brokers, ClientID: "bench-floor"}, nil)
}

// FloorLimits are the floors' server limits: ingest's defaults, with the
// timeouts of its settings' defaults.
func FloorLimits() httpserver.Limits {
	l := httpserver.DefaultLimits()
	l.ReadHeaderTimeout, l.ReadTimeout, l.WriteTimeout = 10*time.Second, 10*time.Second, 10*time.Second
	return l
}
