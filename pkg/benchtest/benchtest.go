// Package benchtest is the plumbing the benchmarks share that compare a
// measured side against a baseline in the same run.
package benchtest

// Rounds is how many chunks each side of a comparison runs in.
const Rounds = 16

// Interleaved returns the order of the chunks of a comparison: baseline
// (false) and measured side (true) alternating as ABBA BAAB …, so that load
// from elsewhere on the machine and any drift hit both sides alike. It has
// rounds entries of each.
func Interleaved(rounds int) []bool {
	out := make([]bool, 0, 2*rounds)
	for r := range rounds {
		first := r%2 == 1
		out = append(out, first, !first)
	}
	return out
}
