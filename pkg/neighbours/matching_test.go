package neighbours_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/curavani/matching/pkg/neighbours"
)

// filled sets every field of the struct v points to a non-zero value.
func filled(t *testing.T, v any) {
	t.Helper()
	s := reflect.ValueOf(v).Elem()
	for i := range s.NumField() {
		f := s.Field(i)
		switch f.Kind() {
		case reflect.Int64:
			f.SetInt(int64(i + 1))
		case reflect.Pointer:
			p := reflect.New(f.Type().Elem())
			switch p.Elem().Kind() {
			case reflect.String:
				p.Elem().SetString(s.Type().Field(i).Name)
			case reflect.Bool:
				p.Elem().SetBool(true)
			case reflect.Int:
				p.Elem().SetInt(int64(i + 1))
			}
			f.Set(p)
		case reflect.Slice: // json.RawMessage
			f.Set(reflect.ValueOf(json.RawMessage(`["` + s.Type().Field(i).Name + `"]`)))
		default:
			t.Fatalf("field %s of kind %s", s.Type().Field(i).Name, f.Kind())
		}
	}
}

// sameFields checks that every field of the rules' record holds the value of
// the service record's field of the same name, so a field added to the
// rules' record cannot be forgotten in the conversion.
func sameFields(t *testing.T, record, rules any) {
	t.Helper()
	r, m := reflect.ValueOf(record), reflect.ValueOf(rules)
	for i := range m.NumField() {
		name := m.Type().Field(i).Name
		from := r.FieldByName(name)
		if !from.IsValid() {
			t.Errorf("%s: no such field in %s", name, r.Type())
			continue
		}
		if !reflect.DeepEqual(from.Interface(), m.Field(i).Interface()) {
			t.Errorf("%s: %v, want %v", name, m.Field(i).Interface(), from.Interface())
		}
	}
}

func TestMatching_copiesEveryFieldTheRulesRead(t *testing.T) {
	var p neighbours.Patient
	filled(t, &p)
	sameFields(t, p, p.Matching())
	var th neighbours.Therapist
	filled(t, &th)
	sameFields(t, th, th.Matching())
}
