package inbox

import "sort"

// Types lists the canonical event types the processor applies (its Routes
// and Prepared routes), sorted. The runtime creates their metric series at
// start from it, so that the first event of a type is already an increase.
func (p *Processor) Types() []string {
	types := make([]string, 0, len(p.Routes)+len(p.Prepared))
	for t := range p.Routes {
		types = append(types, t)
	}
	for t := range p.Prepared {
		types = append(types, t)
	}
	sort.Strings(types)
	return types
}
