package campaign

import (
	"bufio"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// usage is what a function's /metrics says of its goroutines and memory.
type usage struct {
	Goroutines int
	RSS        float64 // bytes
}

// scrape reads go_goroutines and process_resident_memory_bytes of p.
func scrape(p *proc) (usage, error) {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(p.URL() + "/metrics")
	if err != nil {
		return usage{}, err
	}
	defer resp.Body.Close()
	var u usage
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	found := 0
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			continue
		}
		switch name {
		case "go_goroutines":
			u.Goroutines, found = int(v), found+1
		case "process_resident_memory_bytes":
			u.RSS, found = v, found+1
		}
	}
	if found < 2 {
		return u, fmt.Errorf("%s: go_goroutines or process_resident_memory_bytes missing", p.label)
	}
	return u, sc.Err()
}

// scrapeAll scrapes every process; a failure leaves its entry out. Idle
// keep-alive connections to and from the functions (the campaign's
// clients, the sink) are closed first: each holds goroutines that say
// nothing about a leak, and their number depends on timing.
func (e *env) scrapeAll(t *traffic) map[string]usage {
	t.client.CloseIdleConnections()
	e.sink.srv.SetKeepAlivesEnabled(false)
	time.Sleep(time.Second)
	e.sink.srv.SetKeepAlivesEnabled(true)
	out := map[string]usage{}
	for _, p := range e.procs {
		if u, err := scrape(p); err == nil {
			out[p.label] = u
		}
	}
	return out
}

// Bounds of "back to the baseline": a process may end with at most this
// many goroutines more, and this much more resident memory (a factor and
// an allowance for the heap a busy run grows), than under the first
// traffic before any fault.
const (
	goroutineSlack = 25
	rssFactor      = 1.5
	rssSlack       = 48 << 20
)

func (c *checker) usage(base, end map[string]usage) {
	for _, p := range c.e.procs {
		b, okB := base[p.label]
		f, okE := end[p.label]
		if !okB || !okE {
			c.add("goroutines and memory back: "+p.label, "scraped", fmt.Sprintf("baseline %v, end %v", okB, okE), false)
			continue
		}
		ok := f.Goroutines <= b.Goroutines+goroutineSlack && f.RSS <= b.RSS*rssFactor+rssSlack
		c.add("goroutines and memory back: "+p.label,
			fmt.Sprintf("≤ %d, ≤ %.0f MiB", b.Goroutines+goroutineSlack, (b.RSS*rssFactor+rssSlack)/(1<<20)),
			fmt.Sprintf("%d→%d, %.0f→%.0f MiB (%d starts)", b.Goroutines, f.Goroutines, b.RSS/(1<<20), f.RSS/(1<<20), p.starts), ok)
	}
}
