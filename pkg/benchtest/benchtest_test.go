package benchtest_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/curavani/matching/pkg/benchtest"
)

// Each side runs rounds chunks, and within every pair of rounds each side
// goes first once.
func TestInterleaved_alternatesWhichSideGoesFirst(t *testing.T) {
	want := []bool{false, true, true, false, false, true, true, false}
	if d := cmp.Diff(want, benchtest.Interleaved(4)); d != "" {
		t.Errorf("order (-want +got):\n%s", d)
	}
}
