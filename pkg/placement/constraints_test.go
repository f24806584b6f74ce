package placement

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/curavani/matching/pkg/fault"
	"github.com/curavani/matching/pkg/neighbours"
)

const (
	patientAddress   = "Hauptstraße 1, 52062, Aachen"
	therapistAddress = "Marktplatz 2, 52064, Aachen"
)

func TestCheckConstraints_asksTheGeocoderForThePairsTrip(t *testing.T) {
	p := patient(100)
	p.Verkehrsmittel = sp("ÖPNV")
	d := &fakeDistances{def: 1}
	if _, _, err := CheckConstraints(context.Background(), p.Matching(), therapist(1), nil, d, 25, testToday); err != nil {
		t.Fatal(err)
	}
	want := neighbours.DistanceQuery{Origin: patientAddress, Destination: therapistAddress, TravelMode: "transit"}
	if len(d.calls) != 1 || d.calls[0] != want {
		t.Errorf("queries %+v, want [%+v]", d.calls, want)
	}
}

func TestCheckConstraints_unknownDistancePassesButAnOutageFails(t *testing.T) {
	t.Run("patient without ort: no call, pass", func(t *testing.T) {
		p := patient(100)
		p.Ort = sp("")
		d := &fakeDistances{def: 100}
		ok, _, err := CheckConstraints(context.Background(), p.Matching(), therapist(1), nil, d, 25, testToday)
		if !ok || err != nil || d.count() != 0 {
			t.Errorf("ok %v, err %v, %d calls", ok, err, d.count())
		}
	})
	t.Run("therapist without ort: no call, pass", func(t *testing.T) {
		th := therapist(1)
		th.Ort = nil
		d := &fakeDistances{def: 100}
		ok, _, err := CheckConstraints(context.Background(), patient(100).Matching(), th, nil, d, 25, testToday)
		if !ok || err != nil || d.count() != 0 {
			t.Errorf("ok %v, err %v, %d calls", ok, err, d.count())
		}
	})
	t.Run("geocoder cannot compute: pass", func(t *testing.T) {
		d := &fakeDistances{none: map[[2]string]bool{{patientAddress, therapistAddress}: true}}
		ok, _, err := CheckConstraints(context.Background(), patient(100).Matching(), therapist(1), nil, d, 25, testToday)
		if !ok || err != nil {
			t.Errorf("ok %v, err %v", ok, err)
		}
	})
	t.Run("geocoder down: error with 503", func(t *testing.T) {
		d := &fakeDistances{err: fault.Unavailablef("Geocoding service unavailable")}
		ok, _, err := CheckConstraints(context.Background(), patient(100).Matching(), therapist(1), nil, d, 25, testToday)
		if ok || fault.Status(err) != 503 {
			t.Errorf("ok %v, err %v (status %d)", ok, err, fault.Status(err))
		}
	})
	t.Run("distance is checked first: too far is the reason even when also excluded", func(t *testing.T) {
		d := &fakeDistances{def: 100}
		ok, reason, err := CheckConstraints(context.Background(), patient(100).Matching(), therapist(1), json.RawMessage(`[1]`), d, 25, testToday)
		if ok || err != nil || d.count() != 1 || !strings.Contains(reason, "distance") {
			t.Errorf("ok %v, reason %q, err %v, %d calls", ok, reason, err, d.count())
		}
	})
}
