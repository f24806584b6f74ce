package replies_test

import (
	"strings"
	"testing"
	"time"

	"github.com/curavani/matching/pkg/benchtest"
	"github.com/curavani/matching/pkg/replies"
)

// BenchmarkParse_examples parses all 40 examples per op and reports
// replies per second.
func BenchmarkParse_examples(b *testing.B) {
	cases := loadCases(b, "testdata/examples.jsonl")
	b.ReportAllocs()
	for b.Loop() {
		for _, c := range cases {
			replies.Parse(c.people(), c.reply())
		}
	}
	b.ReportMetric(float64(len(cases)*b.N)/b.Elapsed().Seconds(), "replies/s")
}

// BenchmarkParse_oneMiB times a 1 MiB body (a real reply above a MiB of
// answer-like text, the worst case: nothing marks it as quoted) against the
// baseline of a typical reply (example ex003), interleaved in the same run,
// and reports both and their ratio. The ratio stays small because only a
// bounded prefix of any body is read.
func BenchmarkParse_oneMiB(b *testing.B) {
	var typical replyCase
	for _, c := range loadCases(b, "testdata/examples.jsonl") {
		if c.ID == "ex003" {
			typical = c
		}
	}
	big := typical.reply()
	big.Body = typical.Body + "\n" + strings.Repeat("Person 1 nehme ich gerne, Person 2 leider nicht, ich bin voll. ", (1<<20)/64)
	people := typical.people()
	const perChunk = 4
	var base, measured time.Duration
	b.ReportAllocs()
	for b.Loop() {
		for _, bigSide := range benchtest.Interleaved(benchtest.Rounds) {
			r := typical.reply()
			if bigSide {
				r = big
			}
			start := time.Now()
			for range perChunk {
				replies.Parse(people, r)
			}
			if bigSide {
				measured += time.Since(start)
			} else {
				base += time.Since(start)
			}
		}
	}
	runs := float64(b.N * benchtest.Rounds * perChunk)
	b.ReportMetric(float64(measured.Microseconds())/runs/1000, "ms/1MiB-body")
	b.ReportMetric(float64(base.Microseconds())/runs/1000, "ms/typical-reply")
	b.ReportMetric(float64(measured)/float64(base), "ratio")
}
