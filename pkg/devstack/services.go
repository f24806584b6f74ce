package devstack

import (
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/curavani/matching/config"
	"github.com/curavani/matching/pkg/localkafka"
	"github.com/curavani/matching/pkg/neighbours/fake"
)

// The parts of the stack that are not matching's own functions: the
// embedded broker and the fake neighbour services.

func (s *Stack) startKafka() error {
	if len(s.opts.Brokers) > 0 {
		s.Brokers = s.opts.Brokers
		return nil
	}
	addr := s.opts.KafkaAddr
	if addr == "" {
		addr = net.JoinHostPort(s.opts.Host, "0")
	}
	b, err := localkafka.Start(addr)
	if err != nil {
		return fmt.Errorf("%w (is another make run running? KAFKA_BOOTSTRAP_SERVERS uses a running broker instead)", err)
	}
	s.broker, s.Brokers, s.EmbeddedKafka = b, b.Addrs, true
	return nil
}

func (s *Stack) startNeighbours() error {
	ln, err := s.listen(s.opts.NeighboursAddr)
	if err != nil {
		return fmt.Errorf("fake neighbours: %w", err)
	}
	s.Neighbours = fake.New()
	s.NeighboursURL = "http://" + ln.Addr().String()
	// Changes made over HTTP reach matching as events, as in production.
	s.announcer, err = NewAnnouncer(s.Brokers, s.log)
	if err != nil {
		ln.Close()
		return fmt.Errorf("fake neighbours: %w", err)
	}
	s.Neighbours.OnChange(s.announcer.Announce)
	s.wg.Go(func() {
		if err := s.Neighbours.Serve(s.ctx, ln); err != nil {
			s.log.Error("fake neighbours stopped", slog.String("error", err.Error()))
		}
	})
	return nil
}

// neighbourConfig points all four services at the fake.
func (s *Stack) neighbourConfig() config.Neighbours {
	return config.Neighbours{
		PatientURL:       s.NeighboursURL,
		TherapistURL:     s.NeighboursURL,
		CommunicationURL: s.NeighboursURL,
		GeocodingURL:     s.NeighboursURL,
		Timeout:          5 * time.Second,
	}
}

// listen opens addr, or a free port on Host when addr is empty.
func (s *Stack) listen(addr string) (net.Listener, error) {
	if addr == "" {
		addr = net.JoinHostPort(s.opts.Host, "0")
	}
	return net.Listen("tcp", addr)
}
