package metricstest

import (
	"encoding/json"
	"os"
	"testing"
)

// DashboardQuery is one PromQL expression of a dashboard panel.
type DashboardQuery struct {
	Panel, Expr string
}

// DashboardQueries reads every panel's queries of the Grafana dashboard at
// path (rows' nested panels included).
func DashboardQueries(t testing.TB, path string) []DashboardQuery {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	type panel struct {
		Title   string
		Type    string
		Targets []struct{ Expr string }
		Panels  []json.RawMessage
	}
	var dash struct {
		Title, UID string
		Panels     []json.RawMessage
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if dash.Title == "" || dash.UID == "" {
		t.Errorf("%s: a dashboard needs a title and a uid to be imported", path)
	}
	var out []DashboardQuery
	var walk func([]json.RawMessage)
	walk = func(ps []json.RawMessage) {
		for _, r := range ps {
			var p panel
			if err := json.Unmarshal(r, &p); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if p.Type != "row" && len(p.Targets) == 0 {
				t.Errorf("%s: panel %q has no query", path, p.Title)
			}
			for _, tg := range p.Targets {
				out = append(out, DashboardQuery{Panel: p.Title, Expr: tg.Expr})
			}
			walk(p.Panels)
		}
	}
	walk(dash.Panels)
	return out
}
