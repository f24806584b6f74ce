package fake

import (
	"math"
	"net/http"
	"regexp"
	"strconv"

	"github.com/curavani/matching/pkg/neighbours"
)

type distance struct {
	km   float64
	none bool
}

// SetDistance fixes the distance between two addresses for every travel mode.
// Either key may be a whole address as matching sends it ("Hauptstr. 1,
// 10115, Berlin") or a five-digit PLZ, which then stands for every address
// with that PLZ; exact addresses win. The pair is symmetric.
func (f *Fake) SetDistance(origin, destination string, km float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.distances[[2]string{origin, destination}] = distance{km: km}
}

// SetNoDistance makes the geocoding service unable to compute a distance
// between the two addresses (or PLZs): it answers status "error", as the
// reference does for an address it cannot resolve.
func (f *Fake) SetNoDistance(origin, destination string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.distances[[2]string{origin, destination}] = distance{none: true}
}

// DistanceQueries returns every distance request received, in order.
func (f *Fake) DistanceQueries() []neighbours.DistanceQuery {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]neighbours.DistanceQuery(nil), f.queries...)
}

// geocodingRoutes registers the endpoint of the geocoding service.
func (f *Fake) geocodingRoutes(route routeFunc) {
	route(CalculateDistance, GeocodingService, f.calculateDistance)
}

// calculateDistance serves GET /api/calculate-distance. A distance set with
// SetDistance wins; otherwise it is |PLZ1 − PLZ2| / 10 km from the first
// five-digit number of each address, and an address without one cannot be
// resolved (status "error", distance_km 0, as the reference answers).
func (f *Fake) calculateDistance(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	origin, dest, mode := q.Get("origin"), q.Get("destination"), q.Get("travel_mode")
	if mode == "" {
		mode = "car"
	}
	if mode != "car" && mode != "transit" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": map[string]string{"travel_mode": "Mode of transport (car or transit)"}})
		return
	}
	if origin == "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"status": "error", "error": "Origin is required (address or coordinates)"})
		return
	}
	if dest == "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"status": "error", "error": "Destination is required (address or coordinates)"})
		return
	}
	f.mu.Lock()
	f.queries = append(f.queries, neighbours.DistanceQuery{Origin: origin, Destination: dest, TravelMode: mode})
	d, found := f.lookupDistance(origin, dest)
	f.mu.Unlock()
	if !found {
		p1, p2 := plzOf(origin), plzOf(dest)
		if p1 == "" || p2 == "" {
			d = distance{none: true}
		} else {
			n1, _ := strconv.Atoi(p1)
			n2, _ := strconv.Atoi(p2)
			d = distance{km: math.Abs(float64(n1-n2)) / 10}
		}
	}
	if d.none {
		writeJSON(w, http.StatusOK, map[string]any{"distance_km": 0, "status": "error", "error": "Could not resolve coordinates"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"distance_km": d.km, "status": "success", "source": "fake", "travel_mode": mode, "route_available": true,
	})
}

// lookupDistance finds a distance set for the pair, exact addresses before
// PLZs, in either direction; f.mu is held.
func (f *Fake) lookupDistance(origin, dest string) (distance, bool) {
	okeys, dkeys := []string{origin}, []string{dest}
	if p := plzOf(origin); p != "" && p != origin {
		okeys = append(okeys, p)
	}
	if p := plzOf(dest); p != "" && p != dest {
		dkeys = append(dkeys, p)
	}
	for _, o := range okeys {
		for _, d := range dkeys {
			if v, ok := f.distances[[2]string{o, d}]; ok {
				return v, true
			}
			if v, ok := f.distances[[2]string{d, o}]; ok {
				return v, true
			}
		}
	}
	return distance{}, false
}

var plzPattern = regexp.MustCompile(`\b(\d{5})\b`)

// plzOf returns the first five-digit number of an address.
func plzOf(address string) string {
	if m := plzPattern.FindStringSubmatch(address); m != nil {
		return m[1]
	}
	return ""
}
