package devstack

import (
	"fmt"
	"strings"
	"time"

	"github.com/curavani/matching/pkg/localkafka"
	"github.com/curavani/matching/pkg/store/localpg"
)

// Banner is the one screen `make run` prints once the stack is ready: what
// runs where, and three commands to try.
func (s *Stack) Banner() string {
	var b strings.Builder
	line := func(name, where, what string) { fmt.Fprintf(&b, "  %-21s %-40s %s\n", name, where, what) }

	fmt.Fprintf(&b, "\nmatching is running (ready in %s). Ctrl-C stops everything.\n\n", s.Ready.Round(10*time.Millisecond))
	line("anfrage API", s.APIURL+"/api", "MATCHING_SERVICE_INTERNAL_PORT")
	line("fake neighbours", s.NeighboursURL, "patient, therapist, communication and geocoding services")
	kafka := "KAFKA_BOOTSTRAP_SERVERS"
	if s.EmbeddedKafka {
		kafka = "embedded (kfake): " + strings.Join(localkafka.Topics, " ")
	}
	line("Kafka", strings.Join(s.Brokers, ","), kafka)
	origin := map[string]string{
		"given":     "DATABASE_URL",
		"local":     "the local server",
		"throwaway": "a throwaway cluster, removed on exit",
	}[s.DatabaseOrigin]
	line("PostgreSQL", localpg.Redact(s.DatabaseURL), origin)
	for _, name := range Functions {
		line(name, s.functionURL(name), s.fns[name].about)
	}
	if s.Seeded != "" {
		fmt.Fprintf(&b, "\n  demo data: %s\n", s.Seeded)
	}
	if s.Synced != "" {
		fmt.Fprintf(&b, "  directory-sync: %s (matching's copy of patients and therapists)\n", s.Synced)
	}
	fmt.Fprintf(&b, "\nTry, in another terminal (README: \"Run it locally\"):\n")
	fmt.Fprintf(&b, "  make tail                                              # follow matching-events\n")
	fmt.Fprintf(&b, "  curl -s -X POST %s/api/platzsuchen -H 'Content-Type: application/json' -d '{\"patient_id\":10}'\n", s.APIURL)
	fmt.Fprintf(&b, "  make event TYPE=patient.deleted DATA='{\"patient_id\":4}'\n")
	fmt.Fprintf(&b, "  make patient-update ID=7 DATA='{\"bevorzugtes_therapeutengeschlecht\":\"Weiblich\"}'   # the patient service publishes patient.updated\n")
	fmt.Fprintf(&b, "  curl -s %s/metrics | grep ^matching_                # every function serves /metrics\n\n", s.APIURL)
	return b.String()
}
