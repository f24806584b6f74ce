package fake_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/curavani/matching/pkg/neighbours/fake"
)

// BenchmarkListPhoneCalls_byAnfrage measures the fake's own work for the
// follow-up job's question GET /api/phone-calls?therapeutenanfrage_id= (the
// handler called directly, no network) with 10,000 stored calls, and in the
// same iteration with 100 as the baseline. The ratio says whether a large
// follow-up benchmark measures the job or the fake: near 1 the cost does not
// grow with the calls stored.
func BenchmarkListPhoneCalls_byAnfrage(b *testing.B) {
	fill := func(n int) http.Handler {
		f := fake.New()
		for i := 1; i <= n; i++ {
			f.AddPhoneCall(map[string]any{"therapist_id": 1 + i%5000, "therapeutenanfrage_id": i,
				"geplantes_datum": "2030-01-02", "geplante_zeit": "10:00"})
		}
		return f.Handler()
	}
	small, large := fill(100), fill(10_000)
	ask := func(h http.Handler, anfrage int) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, fmt.Sprintf("/api/phone-calls?therapeutenanfrage_id=%d", anfrage), nil))
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
	var inSmall, inLarge time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		ask(small, 1+i%100)
		t1 := time.Now()
		ask(large, 1+i%10_000)
		inSmall += t1.Sub(t0)
		inLarge += time.Since(t1)
	}
	n := float64(b.N)
	b.ReportMetric(float64(inLarge.Nanoseconds())/1000/n, "µs/req-at-10000")
	b.ReportMetric(float64(inSmall.Nanoseconds())/1000/n, "µs/req-at-100")
	b.ReportMetric(float64(inLarge)/float64(inSmall), "x-cost-of-100")
}
