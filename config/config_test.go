package config

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// setEnv sets the given variables for the test and unsets every other
// variable config reads, so the machine's environment cannot leak in.
func setEnv(t *testing.T, vars map[string]string) {
	t.Helper()
	var all struct {
		Common
		Neighbours
		Matching
		FollowUp
	}
	for _, name := range tagNames(reflect.TypeOf(&all)) {
		t.Setenv(name, "")
		os.Unsetenv(name)
	}
	for k, v := range vars {
		t.Setenv(k, v)
	}
}

func TestLoad_errorsNameTheVariableInOneLine(t *testing.T) {
	for name, c := range map[string]struct {
		env  map[string]string
		want string
	}{
		"missing DATABASE_URL":    {map[string]string{}, "DATABASE_URL: required but not set"},
		"blank DATABASE_URL":      {map[string]string{"DATABASE_URL": " "}, "DATABASE_URL: required but empty"},
		"pool size not a number":  {map[string]string{"DATABASE_URL": "postgres://db/x", "DATABASE_MAX_CONNS": "abc"}, `DATABASE_MAX_CONNS: cannot use "abc" as int32`},
		"pool size zero":          {map[string]string{"DATABASE_URL": "postgres://db/x", "DATABASE_MAX_CONNS": "0"}, "DATABASE_MAX_CONNS: must be at least 1, got 0"},
		"bad log level":           {map[string]string{"DATABASE_URL": "postgres://db/x", "LOG_LEVEL": "loud"}, `LOG_LEVEL: must be DEBUG, INFO, WARN or ERROR, got "loud"`},
		"bad log format":          {map[string]string{"DATABASE_URL": "postgres://db/x", "LOG_FORMAT": "xml"}, `LOG_FORMAT: must be json or text, got "xml"`},
		"relative K_SINK":         {map[string]string{"DATABASE_URL": "postgres://db/x", "K_SINK": "/sink"}, `K_SINK: not an absolute URL: "/sink"`},
		"K_CE_OVERRIDES not JSON": {map[string]string{"DATABASE_URL": "postgres://db/x", "K_CE_OVERRIDES": "{"}, "K_CE_OVERRIDES: not JSON"},
		"bad PORT":                {map[string]string{"DATABASE_URL": "postgres://db/x", "PORT": "http"}, `PORT: cannot use "http" as int`},
		"auto-migrate not bool":   {map[string]string{"DATABASE_URL": "postgres://db/x", "DATABASE_AUTO_MIGRATE": "maybe"}, `DATABASE_AUTO_MIGRATE: cannot use "maybe" as bool`},
		"no attempt at all":       {map[string]string{"DATABASE_URL": "postgres://db/x", "KAFKA_MAX_ATTEMPTS": "0"}, "KAFKA_MAX_ATTEMPTS: must be at least 1, got 0"},
		"an empty batch":          {map[string]string{"DATABASE_URL": "postgres://db/x", "KAFKA_BATCH_SIZE": "0"}, "KAFKA_BATCH_SIZE: must be between 1 and 10000, got 0"},
		"read timeout not a time": {map[string]string{"DATABASE_URL": "postgres://db/x", "HTTP_READ_TIMEOUT": "soon"}, `HTTP_READ_TIMEOUT: cannot use "soon" as time.Duration`},
		"idle timeout zero":       {map[string]string{"DATABASE_URL": "postgres://db/x", "HTTP_IDLE_TIMEOUT": "0s"}, "HTTP_IDLE_TIMEOUT: must be positive, got 0s"},
		"body faster than header": {map[string]string{"DATABASE_URL": "postgres://db/x", "HTTP_READ_TIMEOUT": "5s"}, "HTTP_READ_TIMEOUT: must be at least HTTP_READ_HEADER_TIMEOUT (10s), got 5s"},
		"negative batch bound":    {map[string]string{"DATABASE_URL": "postgres://db/x", "HTTP_GROUP_COMMIT_MAX": "-1"}, "HTTP_GROUP_COMMIT_MAX: must be 0 (off) or more, got -1"},
		"negative lanes":          {map[string]string{"DATABASE_URL": "postgres://db/x", "HTTP_GROUP_COMMIT_LANES": "-2"}, "HTTP_GROUP_COMMIT_LANES: must be 0 (DATABASE_MAX_CONNS) or more, got -2"},
	} {
		t.Run(name, func(t *testing.T) {
			setEnv(t, c.env)
			var cfg Common
			err := Load(&cfg)
			if err == nil {
				t.Fatalf("no error, want %q", c.want)
			}
			if !strings.HasPrefix(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q, want one line starting %q", err, c.want)
			}
		})
	}
}

func TestLoad_defaultsOfTheContract(t *testing.T) {
	setEnv(t, map[string]string{"DATABASE_URL": "postgres://db/x", "KAFKA_BOOTSTRAP_SERVERS": "a:9092,b:9092"})
	var cfg struct {
		Common
		Matching
	}
	if err := Load(&cfg); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Common.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Matching.Validate(); err != nil {
		t.Fatal(err)
	}
	c, m := cfg.Common, cfg.Matching
	if c.Database.MaxConns != 4 || c.Database.AutoMigrate || c.Port != 8080 || c.Logging.Level != "INFO" ||
		c.Logging.Format != "json" || c.Kafka.MatchingEventsTopic != "matching-events" || c.Kafka.LogLevel != "WARNING" ||
		len(c.Kafka.BootstrapServers) != 2 {
		t.Fatalf("common defaults: %+v", c)
	}
	if m.MinAnfrageSize != 1 || m.MaxAnfrageSize != 6 || m.PLZMatchDigits != 2 || m.DefaultMaxDistanceKM != 25 ||
		m.CoolingPeriodWeeks != 4 || m.FollowUpThresholdDays != 7 || m.DefaultPhoneCallTime != "10:00" || m.Timezone != "Europe/Berlin" {
		t.Fatalf("matching defaults: %+v", m)
	}
	if c.KafkaDirect() {
		t.Fatal("Kafka direct without KAFKA_TOPIC")
	}
	if c.Kafka.MaxAttempts != 10 {
		t.Fatalf("KAFKA_MAX_ATTEMPTS default %d", c.Kafka.MaxAttempts)
	}
	if c.Kafka.BatchSize != 250 {
		t.Fatalf("KAFKA_BATCH_SIZE default %d", c.Kafka.BatchSize)
	}
	if (c.GroupCommit != GroupCommit{Max: 64}) || !c.GroupCommit.Enabled() || c.GroupCommit.WithPool(c.Database.MaxConns).Lanes != 4 {
		t.Fatalf("group commit defaults %+v", c.GroupCommit)
	}
	// The servers built without configuration (the fake neighbours) get the
	// same bounds as the documented defaults.
	want := HTTP{ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
	if c.HTTP != want {
		t.Fatalf("HTTP defaults %+v, want %+v", c.HTTP, want)
	}
	srv := HTTP{}.Server(nil)
	if srv.ReadHeaderTimeout != want.ReadHeaderTimeout || srv.ReadTimeout != want.ReadTimeout || srv.IdleTimeout != want.IdleTimeout {
		t.Fatalf("HTTP{}.Server has %v %v %v, want the defaults %+v", srv.ReadHeaderTimeout, srv.ReadTimeout, srv.IdleTimeout, want)
	}
}

func TestMatchingValidate_rejectsBadBusinessParameters(t *testing.T) {
	for name, c := range map[string]struct {
		env  map[string]string
		want string
	}{
		"max below min":     {map[string]string{"MIN_ANFRAGE_SIZE": "3", "MAX_ANFRAGE_SIZE": "2"}, "MAX_ANFRAGE_SIZE:"},
		"bad call time":     {map[string]string{"DEFAULT_PHONE_CALL_TIME": "noon"}, "DEFAULT_PHONE_CALL_TIME:"},
		"unknown zone":      {map[string]string{"TIMEZONE": "Mars/Olympus"}, "TIMEZONE:"},
		"zero threshold":    {map[string]string{"FOLLOW_UP_THRESHOLD_DAYS": "0"}, "FOLLOW_UP_THRESHOLD_DAYS:"},
		"size not a number": {map[string]string{"MAX_ANFRAGE_SIZE": "six"}, "MAX_ANFRAGE_SIZE:"},
		// FuzzSetting found that NaN passed "must be positive".
		"distance NaN":      {map[string]string{"DEFAULT_MAX_DISTANCE_KM": "NaN"}, "DEFAULT_MAX_DISTANCE_KM:"},
		"distance infinite": {map[string]string{"DEFAULT_MAX_DISTANCE_KM": "+Inf"}, "DEFAULT_MAX_DISTANCE_KM:"},
	} {
		t.Run(name, func(t *testing.T) {
			setEnv(t, c.env)
			var m Matching
			err := Load(&m)
			if err == nil {
				err = m.Validate()
			}
			if err == nil || !strings.HasPrefix(err.Error(), c.want) {
				t.Fatalf("error %v, want prefix %q", err, c.want)
			}
		})
	}
}
