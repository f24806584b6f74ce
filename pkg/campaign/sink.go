package campaign

import (
	"context"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"github.com/cloudevents/sdk-go/protocol/kafka_sarama/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
)

// sink stands in for Knative's KafkaSink in front of matching-events: the
// functions that run with K_SINK (the HTTP-mode consumers and the API) post
// their CloudEvents to it, and it produces each to matching-events with the
// partitionkey extension as the record key, answering 202 once the broker
// acknowledged it and 503 when producing failed, as the KafkaSink does. The
// campaign takes it down (every request 503) to see that nothing emitted
// during the outage is lost.
type sink struct {
	producer sarama.SyncProducer
	topic    string
	down     atomic.Bool
	srv      *http.Server
	URL      string
	// accepted and refused count the answers.
	accepted, refused atomic.Int64
}

func startSink(brokers []string, topic string) (*sink, error) {
	p, err := sarama.NewSyncProducer(brokers, producerConfig())
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		p.Close()
		return nil, err
	}
	s := &sink{producer: p, topic: topic, URL: "http://" + ln.Addr().String()}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.down.Load() {
		s.refused.Add(1)
		http.Error(w, "sink down (fault campaign)", http.StatusServiceUnavailable)
		return
	}
	msg := cehttp.NewMessageFromHttpRequest(r)
	defer msg.Finish(nil)
	if msg.ReadEncoding() == binding.EncodingUnknown {
		http.Error(w, "not a CloudEvent", http.StatusBadRequest)
		return
	}
	e, err := binding.ToEvent(r.Context(), msg)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rec := &sarama.ProducerMessage{Topic: s.topic}
	if k, ok := e.Extensions()["partitionkey"]; ok {
		if ks, ok := k.(string); ok {
			rec.Key = sarama.StringEncoder(ks)
		}
	}
	if err := kafka_sarama.WriteProducerMessage(r.Context(), binding.ToMessage(e), rec); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if _, _, err := s.producer.SendMessage(rec); err != nil {
		s.refused.Add(1)
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	s.accepted.Add(1)
	w.WriteHeader(http.StatusAccepted)
}

func (s *sink) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
	_ = s.producer.Close()
}

// producerConfig: acknowledged by every in-sync replica, retried through a
// broker restart.
func producerConfig() *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V2_8_0_0
	cfg.Producer.Return.Successes = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Retry.Max = 20
	cfg.Producer.Retry.Backoff = 250 * time.Millisecond
	cfg.Net.DialTimeout = 2 * time.Second
	cfg.Metadata.Retry.Max = 20
	cfg.Metadata.Retry.Backoff = 250 * time.Millisecond
	return cfg
}
