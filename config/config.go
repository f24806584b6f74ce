// Package config loads the environment of every function with envconfig.
// The variable names are part of the service's contract (product spec §10).
// A missing or malformed value is reported as one line naming the variable;
// a function's main prints it and exits with status 2 (see Exit).
package config

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"strings"
	"time"
	// TIMEZONE must load on any base image, also one without /usr/share/zoneinfo.
	_ "time/tzdata"

	"github.com/kelseyhightower/envconfig"
)

// Database is the PostgreSQL connection every function shares.
type Database struct {
	// URL is a pgx connection string (postgres://… or key=value). Required.
	URL string `envconfig:"DATABASE_URL" required:"true"`
	// MaxConns bounds the pool. Small by default: Knative scales out by adding
	// instances, and every instance holds its own pool.
	MaxConns int32 `envconfig:"DATABASE_MAX_CONNS" default:"4"`
	// AutoMigrate applies the embedded migrations at start. The local stack and
	// the tests use it; Kubernetes runs them once as a Job instead.
	AutoMigrate bool `envconfig:"DATABASE_AUTO_MIGRATE" default:"false"`
}

// Logging configures log/slog.
type Logging struct {
	// Level is DEBUG, INFO, WARN (or WARNING) or ERROR, case-insensitive.
	Level string `envconfig:"LOG_LEVEL" default:"INFO"`
	// Format is json (default, for log collectors) or text (for humans).
	Format string `envconfig:"LOG_FORMAT" default:"json"`
}

// Kafka configures the Kafka-direct consumer and the Kafka sink.
type Kafka struct {
	// BootstrapServers is a comma list of host:port. Empty means no Kafka.
	BootstrapServers []string `envconfig:"KAFKA_BOOTSTRAP_SERVERS"`
	// LogLevel is the level for the Kafka client's own log lines.
	LogLevel string `envconfig:"KAFKA_LOG_LEVEL" default:"WARNING"`
	// Topic is the topic a handler consumes in Kafka-direct mode. Each
	// handler function has its own default (patient-events, …); Kafka-direct
	// mode needs it together with BootstrapServers and no K_SINK.
	Topic string `envconfig:"KAFKA_TOPIC"`
	// ConsumerGroup overrides the handler's consumer group (the seed's names
	// matching-service-patient, -therapist and -communication by default).
	ConsumerGroup string `envconfig:"KAFKA_CONSUMER_GROUP"`
	// MatchingEventsTopic receives every event matching emits.
	MatchingEventsTopic string `envconfig:"MATCHING_EVENTS_TOPIC" default:"matching-events"`
	// DLQTopic receives poison records in Kafka-direct mode.
	DLQTopic string `envconfig:"MATCHING_EVENTS_DLQ_TOPIC" default:"matching-events-dlq"`
	// MaxAttempts bounds the attempts at a record that fails for a reason
	// nobody classified (neither poison, which is dead-lettered at once,
	// nor an outage, which is retried until it ends): after that many the
	// record is dead-lettered with the reason, so that a deterministic
	// failure cannot stop its partition. With the backoff of 100 ms doubling
	// to 30 s, the default 10 attempts take about a minute.
	MaxAttempts int `envconfig:"KAFKA_MAX_ATTEMPTS" default:"10"`
	// BatchSize bounds how many records of a partition a Kafka-direct
	// consumer applies in one transaction: as many as are already fetched,
	// up to this. Larger batches share one commit among more events (the
	// catch-up rate) at the cost of a larger batch to redeliver after a
	// crash and more memory; a lone record never waits for company. 1
	// applies each record in its own transaction.
	BatchSize int `envconfig:"KAFKA_BATCH_SIZE" default:"250"`
}

// HTTP bounds the connections of a served function's HTTP server, so that
// a client that announces a body and never sends it, or keeps a connection
// open without a request, does not hold it for ever. The defaults suit
// Knative's queue-proxy, which forwards every request: its own server reads
// headers for at most a minute, and its connections to the function stay
// idle for at most 90 s (Go's default transport), so the function's idle
// timeout is longer and the proxy, not the function, closes an idle
// connection (no request is ever sent on a connection being closed).
type HTTP struct {
	// ReadHeaderTimeout bounds reading a request's headers.
	ReadHeaderTimeout time.Duration `envconfig:"HTTP_READ_HEADER_TIMEOUT" default:"10s"`
	// ReadTimeout bounds reading a whole request, its body (at most 1 MiB)
	// included; a body that is late is answered 408.
	ReadTimeout time.Duration `envconfig:"HTTP_READ_TIMEOUT" default:"30s"`
	// IdleTimeout is how long a kept-alive connection waits for its next
	// request.
	IdleTimeout time.Duration `envconfig:"HTTP_IDLE_TIMEOUT" default:"120s"`
}

// withDefaults fills unset fields with the defaults of the tags above.
func (h HTTP) withDefaults() HTTP {
	if h.ReadHeaderTimeout <= 0 {
		h.ReadHeaderTimeout = 10 * time.Second
	}
	if h.ReadTimeout <= 0 {
		h.ReadTimeout = 30 * time.Second
	}
	if h.IdleTimeout <= 0 {
		h.IdleTimeout = 120 * time.Second
	}
	return h
}

// Server is an http.Server for handler with these bounds (unset ones at
// their defaults). Every server of the service is made here: the
// functions', and the fake neighbours' of the local stack.
func (h HTTP) Server(handler http.Handler) *http.Server {
	h = h.withDefaults()
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: h.ReadHeaderTimeout,
		ReadTimeout:       h.ReadTimeout,
		IdleTimeout:       h.IdleTimeout,
	}
}

// Validate checks that every bound is positive and that the whole request
// may take at least as long as its headers.
func (h HTTP) Validate() error {
	for _, v := range []struct {
		name string
		d    time.Duration
	}{{"HTTP_READ_HEADER_TIMEOUT", h.ReadHeaderTimeout}, {"HTTP_READ_TIMEOUT", h.ReadTimeout}, {"HTTP_IDLE_TIMEOUT", h.IdleTimeout}} {
		if v.d <= 0 {
			return fmt.Errorf("%s: must be positive, got %s", v.name, v.d)
		}
	}
	if h.ReadTimeout < h.ReadHeaderTimeout {
		return fmt.Errorf("HTTP_READ_TIMEOUT: must be at least HTTP_READ_HEADER_TIMEOUT (%s), got %s", h.ReadHeaderTimeout, h.ReadTimeout)
	}
	return nil
}

// GroupCommit is how a served event function applies the CloudEvents POSTed
// to it at the same time: a request that arrives while every lane is
// applying a batch waits, and the next batch applies all that waited (at
// most Max) in one transaction. A request that finds a lane free is applied
// at once, alone: there is no timer. Larger batches cost fewer commits per
// event under load, but a batch holds its lane until its slowest event is
// done (a Prepared route's remote reads run before its transaction).
type GroupCommit struct {
	// Max bounds the events of one batch; 0 or 1 switches group commit off
	// (each request is one transaction of its own, as before).
	Max int `envconfig:"HTTP_GROUP_COMMIT_MAX" default:"64"`
	// Lanes is how many batches are applied at once, each on one database
	// connection; 0 (the default) is DATABASE_MAX_CONNS. A request that
	// finds a lane free is applied at once and alone, so with as many
	// lanes as connections group commit runs as many transactions at once
	// as a transaction per request could, and batches only the requests
	// that would have waited for a connection. Fewer lanes make larger
	// batches and fewer commits, but fewer transactions at once.
	Lanes int `envconfig:"HTTP_GROUP_COMMIT_LANES" default:"0"`
}

// WithPool is g with its lanes resolved for a pool of maxConns
// connections: Lanes 0 becomes maxConns.
func (g GroupCommit) WithPool(maxConns int32) GroupCommit {
	if g.Lanes == 0 {
		g.Lanes = int(max(maxConns, 1))
	}
	return g
}

// Enabled reports whether group commit is on.
func (g GroupCommit) Enabled() bool { return g.Max > 1 }

// Validate checks that the bounds are not negative.
func (g GroupCommit) Validate() error {
	if g.Max < 0 {
		return fmt.Errorf("HTTP_GROUP_COMMIT_MAX: must be 0 (off) or more, got %d", g.Max)
	}
	if g.Lanes < 0 {
		return fmt.Errorf("HTTP_GROUP_COMMIT_LANES: must be 0 (DATABASE_MAX_CONNS) or more, got %d", g.Lanes)
	}
	return nil
}

// Sink is where emitted CloudEvents go when K_SINK is set (Knative SinkBinding).
type Sink struct {
	// URL is injected by Knative (SinkBinding, ContainerSource, sink injection).
	URL string `envconfig:"K_SINK"`
	// CEOverrides is Knative's JSON {"extensions": {...}} applied to every event.
	CEOverrides string `envconfig:"K_CE_OVERRIDES"`
}

// Common is the block every served function reads.
type Common struct {
	Database Database
	Logging  Logging
	Kafka    Kafka
	Sink     Sink
	HTTP     HTTP
	// GroupCommit is how the events POSTed at the same time are applied.
	GroupCommit GroupCommit
	// Port is where the HTTP server listens (Knative sets PORT).
	Port int `envconfig:"PORT" default:"8080"`
}

// Load fills spec (a pointer to a struct of envconfig fields) from the
// environment and validates it. The error names the variable in one line.
func Load(spec any) error {
	if err := envconfig.Process("", spec); err != nil {
		return shorten(err, tagNames(reflect.TypeOf(spec)))
	}
	if v, ok := spec.(interface{ Validate() error }); ok {
		return v.Validate()
	}
	return nil
}

// Exit prints a configuration error as one line on stderr and exits 2.
func Exit(function string, err error) {
	fmt.Fprintf(os.Stderr, "%s: configuration: %v\n", function, err)
	os.Exit(2)
}

// shorten turns envconfig's messages into "NAME: problem". envconfig names
// a field of a nested block with the block's prefix (DATABASE_DATABASE_URL)
// although it reads the tag's name (DATABASE_URL); the message names the
// variable a user sets: the longest tag name the key ends with.
func shorten(err error, tags []string) error {
	variable := func(key string) string {
		best := key
		for _, t := range tags {
			if (key == t || strings.HasSuffix(key, "_"+t)) && (best == key || len(t) > len(best)) {
				best = t
			}
		}
		return best
	}
	var pe *envconfig.ParseError
	if ok := asParseError(err, &pe); ok {
		return fmt.Errorf("%s: cannot use %q as %s", variable(pe.KeyName), pe.Value, pe.TypeName)
	}
	msg := err.Error()
	if strings.HasPrefix(msg, "required key ") {
		name := strings.TrimSuffix(strings.TrimPrefix(msg, "required key "), " missing value")
		return fmt.Errorf("%s: required but not set", variable(name))
	}
	return err
}

// tagNames lists the envconfig tag names of t's fields, nested blocks included.
func tagNames(t reflect.Type) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		if name := f.Tag.Get("envconfig"); name != "" {
			out = append(out, strings.ToUpper(name))
		}
		if f.Type.Kind() == reflect.Struct {
			out = append(out, tagNames(f.Type)...)
		}
	}
	return out
}

func asParseError(err error, target **envconfig.ParseError) bool {
	pe, ok := err.(*envconfig.ParseError)
	if ok {
		*target = pe
	}
	return ok
}

// Validate checks what envconfig cannot: empty required values and enumerations.
func (c *Common) Validate() error {
	if strings.TrimSpace(c.Database.URL) == "" {
		return fmt.Errorf("DATABASE_URL: required but empty")
	}
	if c.Database.MaxConns < 1 {
		return fmt.Errorf("DATABASE_MAX_CONNS: must be at least 1, got %d", c.Database.MaxConns)
	}
	if c.Port < 1 || c.Port > 65535 {
		return fmt.Errorf("PORT: must be a TCP port, got %d", c.Port)
	}
	if err := c.Logging.Validate(); err != nil {
		return err
	}
	if c.Sink.URL != "" {
		if err := checkURL("K_SINK", c.Sink.URL); err != nil {
			return err
		}
	}
	if _, err := c.Sink.Overrides(); err != nil {
		return err
	}
	if c.Kafka.MatchingEventsTopic == "" {
		return fmt.Errorf("MATCHING_EVENTS_TOPIC: must not be empty")
	}
	if c.Kafka.MaxAttempts < 1 {
		return fmt.Errorf("KAFKA_MAX_ATTEMPTS: must be at least 1, got %d", c.Kafka.MaxAttempts)
	}
	if c.Kafka.BatchSize < 1 || c.Kafka.BatchSize > 10000 {
		return fmt.Errorf("KAFKA_BATCH_SIZE: must be between 1 and 10000, got %d", c.Kafka.BatchSize)
	}
	if err := c.GroupCommit.Validate(); err != nil {
		return err
	}
	return c.HTTP.Validate()
}

// Validate checks LOG_LEVEL and LOG_FORMAT.
func (l Logging) Validate() error {
	if _, err := ParseLevel(l.Level); err != nil {
		return err
	}
	switch strings.ToLower(l.Format) {
	case "json", "text":
		return nil
	}
	return fmt.Errorf("LOG_FORMAT: must be json or text, got %q", l.Format)
}

// ParseLevel reads LOG_LEVEL (also KAFKA_LOG_LEVEL): DEBUG, INFO, WARN,
// WARNING or ERROR in any case.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "DEBUG":
		return slog.LevelDebug, nil
	case "INFO", "":
		return slog.LevelInfo, nil
	case "WARN", "WARNING":
		return slog.LevelWarn, nil
	case "ERROR":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("LOG_LEVEL: must be DEBUG, INFO, WARN or ERROR, got %q", s)
}

// Overrides parses K_CE_OVERRIDES into the extensions to set on every event.
func (s Sink) Overrides() (map[string]string, error) {
	if strings.TrimSpace(s.CEOverrides) == "" {
		return nil, nil
	}
	var o struct {
		Extensions map[string]any `json:"extensions"`
	}
	if err := json.Unmarshal([]byte(s.CEOverrides), &o); err != nil {
		return nil, fmt.Errorf("K_CE_OVERRIDES: not JSON like {\"extensions\":{...}}: %v", err)
	}
	out := make(map[string]string, len(o.Extensions))
	for k, v := range o.Extensions {
		out[k] = fmt.Sprint(v)
	}
	return out, nil
}

// KafkaDirect reports whether a handler consumes Kafka itself: brokers and a
// topic are set and no K_SINK (under Knative the KafkaSource delivers over HTTP).
func (c *Common) KafkaDirect() bool {
	return len(c.Kafka.BootstrapServers) > 0 && c.Kafka.Topic != "" && c.Sink.URL == ""
}

func checkURL(name, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return fmt.Errorf("%s: not an absolute URL: %q", name, raw)
	}
	return nil
}

// Neighbours are the base URLs (without /api) of the services matching calls.
type Neighbours struct {
	PatientURL       string        `envconfig:"PATIENT_SERVICE_URL"`
	TherapistURL     string        `envconfig:"THERAPIST_SERVICE_URL"`
	CommunicationURL string        `envconfig:"COMMUNICATION_SERVICE_URL"`
	GeocodingURL     string        `envconfig:"GEOCODING_SERVICE_URL"`
	Timeout          time.Duration `envconfig:"NEIGHBOUR_TIMEOUT" default:"5s"`
}

// Validate checks that every set URL is absolute; required ones are checked by
// the function that needs them (RequireURLs).
func (n Neighbours) Validate() error {
	for _, kv := range [][2]string{
		{"PATIENT_SERVICE_URL", n.PatientURL},
		{"THERAPIST_SERVICE_URL", n.TherapistURL},
		{"COMMUNICATION_SERVICE_URL", n.CommunicationURL},
		{"GEOCODING_SERVICE_URL", n.GeocodingURL},
	} {
		if kv[1] == "" {
			continue
		}
		if err := checkURL(kv[0], kv[1]); err != nil {
			return err
		}
	}
	if n.Timeout <= 0 {
		return fmt.Errorf("NEIGHBOUR_TIMEOUT: must be positive, got %s", n.Timeout)
	}
	return nil
}

// Require returns an error naming the first of the given variables that is empty.
func (n Neighbours) Require(names ...string) error {
	vals := map[string]string{
		"PATIENT_SERVICE_URL":       n.PatientURL,
		"THERAPIST_SERVICE_URL":     n.TherapistURL,
		"COMMUNICATION_SERVICE_URL": n.CommunicationURL,
		"GEOCODING_SERVICE_URL":     n.GeocodingURL,
	}
	for _, name := range names {
		if vals[name] == "" {
			return fmt.Errorf("%s: required but not set", name)
		}
	}
	return nil
}

// Matching holds the business parameters of composition, cooling and follow-up.
type Matching struct {
	MinAnfrageSize        int     `envconfig:"MIN_ANFRAGE_SIZE" default:"1"`
	MaxAnfrageSize        int     `envconfig:"MAX_ANFRAGE_SIZE" default:"6"`
	PLZMatchDigits        int     `envconfig:"PLZ_MATCH_DIGITS" default:"2"`
	DefaultMaxDistanceKM  float64 `envconfig:"DEFAULT_MAX_DISTANCE_KM" default:"25"`
	CoolingPeriodWeeks    int     `envconfig:"COOLING_PERIOD_WEEKS" default:"4"`
	FollowUpThresholdDays int     `envconfig:"FOLLOW_UP_THRESHOLD_DAYS" default:"7"`
	DefaultPhoneCallTime  string  `envconfig:"DEFAULT_PHONE_CALL_TIME" default:"10:00"`
	Timezone              string  `envconfig:"TIMEZONE" default:"Europe/Berlin"`
	// TherapistCoolingWriteback also writes the cooling date to the therapist
	// service (PUT /api/therapists/{id}), as the reference did.
	TherapistCoolingWriteback bool `envconfig:"THERAPIST_COOLING_WRITEBACK" default:"false"`
}

// Validate checks ranges and formats of the business parameters.
func (m Matching) Validate() error {
	switch {
	case m.MinAnfrageSize < 1:
		return fmt.Errorf("MIN_ANFRAGE_SIZE: must be at least 1, got %d", m.MinAnfrageSize)
	case m.MaxAnfrageSize < m.MinAnfrageSize:
		return fmt.Errorf("MAX_ANFRAGE_SIZE: must be at least MIN_ANFRAGE_SIZE (%d), got %d", m.MinAnfrageSize, m.MaxAnfrageSize)
	case m.PLZMatchDigits < 1 || m.PLZMatchDigits > 5:
		return fmt.Errorf("PLZ_MATCH_DIGITS: must be between 1 and 5, got %d", m.PLZMatchDigits)
	case !(m.DefaultMaxDistanceKM > 0) || math.IsInf(m.DefaultMaxDistanceKM, 1):
		// !(> 0) also refuses NaN, which compares false with everything
		// and would match no therapist (found by FuzzSetting).
		return fmt.Errorf("DEFAULT_MAX_DISTANCE_KM: must be a positive number, got %v", m.DefaultMaxDistanceKM)
	case m.CoolingPeriodWeeks < 0:
		return fmt.Errorf("COOLING_PERIOD_WEEKS: must not be negative, got %d", m.CoolingPeriodWeeks)
	case m.FollowUpThresholdDays < 1:
		return fmt.Errorf("FOLLOW_UP_THRESHOLD_DAYS: must be at least 1, got %d", m.FollowUpThresholdDays)
	}
	if _, err := time.Parse("15:04", m.DefaultPhoneCallTime); err != nil {
		return fmt.Errorf("DEFAULT_PHONE_CALL_TIME: must be HH:MM, got %q", m.DefaultPhoneCallTime)
	}
	if _, err := time.LoadLocation(m.Timezone); err != nil {
		return fmt.Errorf("TIMEZONE: unknown time zone %q", m.Timezone)
	}
	return nil
}

// Location returns the loaded TIMEZONE (validated before).
func (m Matching) Location() *time.Location {
	loc, err := time.LoadLocation(m.Timezone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// FollowUp holds the operator's switches of the follow-up job. Its flags
// --dry-run and --as-of override them.
type FollowUp struct {
	// DryRun lists what the run would do and changes nothing: no call
	// created, no row or event written.
	DryRun bool `envconfig:"FOLLOW_UP_DRY_RUN" default:"false"`
	// AsOf (YYYY-MM-DD) runs the job as if today were that date in TIMEZONE,
	// to replay a missed day; empty means today.
	AsOf string `envconfig:"FOLLOW_UP_AS_OF"`
}

// Validate checks that FOLLOW_UP_AS_OF, if set, is a date YYYY-MM-DD.
func (f FollowUp) Validate() error {
	if f.AsOf == "" {
		return nil
	}
	if _, err := time.Parse(time.DateOnly, f.AsOf); err != nil {
		return fmt.Errorf("FOLLOW_UP_AS_OF: must be a date YYYY-MM-DD, got %q", f.AsOf)
	}
	return nil
}
