package sink

import (
	"context"
	"fmt"
	"net/http"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/client"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
)

// httpSender posts CloudEvents in binary mode to one URL.
type httpSender struct {
	client    cloudevents.Client
	transport *http.Transport
	overrides map[string]string
	timeout   time.Duration
}

// NewHTTP returns a sender that posts each event in binary mode to url (the
// K_SINK of a SinkBinding, in production a KafkaSink that answers 202 once
// the record is produced), with every entry of overrides set as an extension
// (K_CE_OVERRIDES). A reply other than 2xx, a connection error or no reply
// within timeout is an error. A url that cannot be parsed yields a sender
// whose every Send fails with that reason.
func NewHTTP(url string, overrides map[string]string, timeout time.Duration) Sender {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	// One instance sends from as many goroutines as it serves requests; the
	// default of two idle connections per host would make most sends dial.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	p, err := cehttp.New(
		cehttp.WithTarget(url),
		cehttp.WithClient(http.Client{Transport: tr, Timeout: timeout}),
	)
	if err != nil {
		return failing{fmt.Errorf("sink: K_SINK %q: %w", url, err)}
	}
	c, err := cloudevents.NewClient(p, client.WithForceBinary())
	if err != nil {
		return failing{fmt.Errorf("sink: K_SINK %q: %w", url, err)}
	}
	return &httpSender{client: c, transport: tr, overrides: overrides, timeout: timeout}
}

// Send posts e; the context's deadline, if shorter than the timeout, wins.
func (s *httpSender) Send(ctx context.Context, e cloudevents.Event) error {
	if len(s.overrides) > 0 {
		// Clone: the extension map is shared between copies of an Event.
		e = e.Clone()
		for k, v := range s.overrides {
			if err := e.Context.SetExtension(k, v); err != nil {
				return fmt.Errorf("sink: K_CE_OVERRIDES extension %q: %w", k, err)
			}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if res := s.client.Send(ctx, e); !cloudevents.IsACK(res) {
		return fmt.Errorf("sink: send %s %s: %w", e.Type(), e.ID(), res)
	}
	return nil
}

// Close drops the idle connections.
func (s *httpSender) Close() error {
	s.transport.CloseIdleConnections()
	return nil
}

// failing is a sender that cannot work; every Send reports why.
type failing struct{ err error }

func (f failing) Send(context.Context, cloudevents.Event) error { return f.err }
func (f failing) Close() error                                  { return nil }
