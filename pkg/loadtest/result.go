package loadtest

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// outcome is one answered (or failed) request.
type outcome struct {
	status   int
	took     time.Duration
	body     []byte
	err      error
	expected string // the reason, when the status is a refusal the scenario expects
}

// Endpoint is what one endpoint was answered during the run.
type Endpoint struct {
	// Statuses counts the answers by HTTP status.
	Statuses map[int]int
	// OK, Expected and Errors split them: 2xx; refusals the scenario
	// expects; 5xx, transport errors and statuses it does not expect.
	OK, Expected, Errors int
	// Latencies of every answered request (errors included), unsorted.
	Latencies []time.Duration
}

// Result is what a run was answered, per endpoint.
type Result struct {
	Endpoints map[string]*Endpoint
	// Reasons are the expected refusals by "endpoint status": how often, and
	// why the scenario expects them.
	Reasons map[string]Reason
	// Samples are up to a few examples of every kind of error, with the
	// answer's body (or the transport error).
	Samples []string
	Elapsed time.Duration
	Clients int
}

// Reason is an expected refusal: why, and how often.
type Reason struct {
	Why   string
	Count int
}

func newResult() *Result {
	return &Result{Endpoints: map[string]*Endpoint{}, Reasons: map[string]Reason{}}
}

const maxSamples = 20

func (r *Result) record(endpoint string, o outcome) {
	e := r.Endpoints[endpoint]
	if e == nil {
		e = &Endpoint{Statuses: map[int]int{}}
		r.Endpoints[endpoint] = e
	}
	e.Latencies = append(e.Latencies, o.took)
	switch {
	case o.err != nil:
		e.Errors++
		r.sample(fmt.Sprintf("%s: %v", endpoint, o.err))
		return
	case o.status/100 == 2:
		e.OK++
	case o.expected != "":
		e.Expected++
		key := fmt.Sprintf("%s %d", endpoint, o.status)
		rs := r.Reasons[key]
		rs.Why, rs.Count = o.expected, rs.Count+1
		r.Reasons[key] = rs
	default:
		e.Errors++
		body := strings.TrimSpace(string(o.body))
		if len(body) > 300 {
			body = body[:300] + "…"
		}
		r.sample(fmt.Sprintf("%s: %d %s", endpoint, o.status, body))
	}
	e.Statuses[o.status]++
}

func (r *Result) sample(s string) {
	if len(r.Samples) < maxSamples {
		r.Samples = append(r.Samples, s)
	}
}

func (r *Result) merge(o *Result) {
	for name, oe := range o.Endpoints {
		e := r.Endpoints[name]
		if e == nil {
			e = &Endpoint{Statuses: map[int]int{}}
			r.Endpoints[name] = e
		}
		for st, n := range oe.Statuses {
			e.Statuses[st] += n
		}
		e.OK += oe.OK
		e.Expected += oe.Expected
		e.Errors += oe.Errors
		e.Latencies = append(e.Latencies, oe.Latencies...)
	}
	for k, v := range o.Reasons {
		rs := r.Reasons[k]
		rs.Why, rs.Count = v.Why, rs.Count+v.Count
		r.Reasons[k] = rs
	}
	for _, s := range o.Samples {
		r.sample(s)
	}
}

// Totals are the sums over every endpoint.
func (r *Result) Totals() (requests, ok, expected, errors int) {
	for _, e := range r.Endpoints {
		requests += len(e.Latencies)
		ok += e.OK
		expected += e.Expected
		errors += e.Errors
	}
	return
}

// ServerErrors counts the 5xx answers.
func (r *Result) ServerErrors() int {
	n := 0
	for _, e := range r.Endpoints {
		for st, c := range e.Statuses {
			if st >= 500 {
				n += c
			}
		}
	}
	return n
}

// Percentile returns the p-th percentile (0 < p ≤ 100) of d, nearest rank.
func Percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.999999) - 1
	return s[max(0, min(i, len(s)-1))]
}

// Write prints the run as a table: per endpoint the requests, their split,
// the statuses and the latency percentiles; then the expected refusals with
// their reasons, and examples of the errors.
func (r *Result) Write(w io.Writer) {
	names := make([]string, 0, len(r.Endpoints))
	for n := range r.Endpoints {
		names = append(names, n)
	}
	sort.Strings(names)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "endpoint\trequests\t2xx\texpected 4xx\terrors\tp50\tp99\tmax\tstatuses\t")
	var all []time.Duration
	for _, n := range names {
		e := r.Endpoints[n]
		all = append(all, e.Latencies...)
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t\n", n, len(e.Latencies), e.OK, e.Expected, e.Errors,
			ms(Percentile(e.Latencies, 50)), ms(Percentile(e.Latencies, 99)), ms(Percentile(e.Latencies, 100)), statuses(e.Statuses))
	}
	req, ok, exp, errs := r.Totals()
	fmt.Fprintf(tw, "all\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t\t\n", req, ok, exp, errs,
		ms(Percentile(all, 50)), ms(Percentile(all, 99)), ms(Percentile(all, 100)))
	_ = tw.Flush()
	fmt.Fprintf(w, "%d clients, %s, %.0f requests/s\n", r.Clients, r.Elapsed.Round(time.Millisecond), float64(req)/r.Elapsed.Seconds())
	if len(r.Reasons) > 0 {
		fmt.Fprintln(w, "expected refusals:")
		keys := make([]string, 0, len(r.Reasons))
		for k := range r.Reasons {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "  %-70s %6d  %s\n", k, r.Reasons[k].Count, r.Reasons[k].Why)
		}
	}
	if len(r.Samples) > 0 {
		fmt.Fprintln(w, "errors (examples):")
		for _, s := range r.Samples {
			fmt.Fprintln(w, "  "+s)
		}
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond)) }

func statuses(m map[int]int) string {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d:%d", k, m[k])
	}
	return strings.Join(parts, " ")
}
