package config_test

import (
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/curavani/matching/config"
	"github.com/curavani/matching/pkg/api"
	"github.com/curavani/matching/pkg/handlers"
)

// everything is every setting a function reads from the environment: the
// common block, the API's (neighbours, business parameters, API_TOKENS,
// CORS), the relay's and the follow-up job's.
type everything struct {
	config.Common
	api.Settings
	Relay    handlers.RelaySettings
	FollowUp config.FollowUp
}

func (s *everything) Validate() error {
	for _, v := range []func() error{s.Common.Validate, s.Settings.Validate, s.Relay.Validate, s.FollowUp.Validate} {
		if err := v(); err != nil {
			return err
		}
	}
	return nil
}

// validEnv is an environment every function accepts.
var validEnv = map[string]string{
	"DATABASE_URL":              "postgres://postgres@localhost:5432/matching",
	"PATIENT_SERVICE_URL":       "http://patient-service",
	"THERAPIST_SERVICE_URL":     "http://therapist-service",
	"COMMUNICATION_SERVICE_URL": "http://communication-service",
	"GEOCODING_SERVICE_URL":     "http://geocoding-service",
}

// secretVars hold credentials: an error about them must not repeat them.
var secretVars = map[string]bool{"DATABASE_URL": true, "API_TOKENS": true}

// settingFields maps every variable of t to the index path of its field.
func settingFields(t reflect.Type, prefix []int, out map[string][]int) map[string][]int {
	for i := range t.NumField() {
		f := t.Field(i)
		path := append(append([]int(nil), prefix...), i)
		if name := f.Tag.Get("envconfig"); name != "" {
			out[name] = path
		} else if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Time{}) {
			settingFields(f.Type, path, out)
		}
	}
	return out
}

var settings = settingFields(reflect.TypeOf(everything{}), nil, map[string][]int{})

// settingNames are the variables in a fixed order, for the fuzzer's index.
var settingNames = func() []string {
	var out []string
	for name := range settings {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}()

// load reads everything from an environment holding only env.
func load(t *testing.T, env map[string]string) (everything, error) {
	t.Helper()
	for _, name := range settingNames {
		os.Unsetenv(name)
	}
	for k, v := range env {
		if err := os.Setenv(k, v); err != nil {
			// No environment holds it (a NUL, an '=' in a name): no
			// function can be given such a value.
			t.Skip(err)
		}
	}
	var s everything
	err := config.Load(&s)
	return s, err
}

// formatSetting writes a loaded value back as the text of its variable.
func formatSetting(v reflect.Value) string {
	switch x := v.Interface().(type) {
	case time.Duration:
		return x.String()
	case []string:
		return strings.Join(x, ",")
	}
	switch v.Kind() {
	case reflect.String:
		return v.String()
	case reflect.Int, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.Float64:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64)
	}
	panic("no format for " + v.Type().String())
}

// FuzzSetting sets one variable of a valid environment to any value. The
// load must not panic; a refusal is one line that starts with the name of
// a variable and names the one that was set, and never repeats a secret; an
// accepted value, written back as text, loads to the same settings.
func FuzzSetting(f *testing.F) {
	// Every variable empty, not a number and negative; then values real
	// environments hold (README, k8s/, the tests) and near misses.
	for i := range settingNames {
		for _, v := range []string{"", "abc", "-1"} {
			f.Add(uint8(i), v)
		}
	}
	for name, values := range map[string][]string{
		"DATABASE_MAX_CONNS":      {"4", "2147483648"},
		"HTTP_READ_TIMEOUT":       {"30s", "5s", "2562047h47m16.854775808s"},
		"RELAY_INTERVAL":          {"5s", "-5m"},
		"DEFAULT_MAX_DISTANCE_KM": {"25", "NaN", "+Inf", "1e309"},
		"API_TOKENS":              {"ui:s3cret-token,ops:other", "bare-token, ,x:"},
		"K_SINK":                  {"http://broker-ingress.knative-eventing.svc/matching/default", "/relative"},
		"K_CE_OVERRIDES":          {`{"extensions":{"source":"x"}}`, "{"},
		"TIMEZONE":                {"Europe/Berlin", "Local", "../../etc/passwd"},
		"DEFAULT_PHONE_CALL_TIME": {"10:00", "25:61"},
		"FOLLOW_UP_AS_OF":         {"2025-08-12", "2025-02-30"},
		"LOG_LEVEL":               {"warning", "loud"},
		"PORT":                    {"8080", "+80", "65536"},
		"KAFKA_BOOTSTRAP_SERVERS": {"kafka:9092,kafka-2:9092"},
		"DATABASE_AUTO_MIGRATE":   {"true", "maybe"},
	} {
		i := slices.Index(settingNames, name)
		if i < 0 {
			f.Fatalf("no variable %s", name)
		}
		for _, v := range values {
			f.Add(uint8(i), v)
		}
	}
	// Quit the environment of the machine: only what the target sets counts.
	saved := map[string]string{}
	for _, name := range settingNames {
		if v, ok := os.LookupEnv(name); ok {
			saved[name] = v
		}
	}
	f.Cleanup(func() {
		for _, name := range settingNames {
			os.Unsetenv(name)
		}
		for k, v := range saved {
			os.Setenv(k, v)
		}
	})
	f.Fuzz(func(t *testing.T, which uint8, value string) {
		name := settingNames[int(which)%len(settingNames)]
		env := map[string]string{name: value}
		for k, v := range validEnv {
			if k != name {
				env[k] = v
			}
		}
		s, err := load(t, env)
		if err != nil {
			msg := err.Error()
			head, _, _ := strings.Cut(msg, ":")
			if _, known := settings[head]; !known || strings.Contains(msg, "\n") || !strings.Contains(msg, name) {
				t.Fatalf("%s=%q: error %q is not one line naming %s", name, value, msg, name)
			}
			if secretVars[name] && len(value) >= 4 && strings.Contains(msg, value) {
				t.Fatalf("%s=%q: the error repeats the secret: %q", name, value, msg)
			}
			return
		}
		field := reflect.ValueOf(s).FieldByIndex(settings[name])
		env[name] = formatSetting(field)
		again, err := load(t, env)
		if err != nil {
			t.Fatalf("%s=%q loads, %q (the value written back) does not: %v", name, value, env[name], err)
		}
		// An empty list and an unset one are the same setting.
		if !cmp.Equal(s, again, cmpopts.EquateEmpty()) {
			t.Fatalf("%s=%q loads as %v, written back as %q it loads as %v", name, value, field,
				env[name], reflect.ValueOf(again).FieldByIndex(settings[name]))
		}
	})
}
