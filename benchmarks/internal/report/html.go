package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
)

//go:embed report.html.tmpl
var htmlSource string

// page renders a Report as one self-contained HTML page: inline CSS and
// SVG, no scripts, no network assets.
var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"dur":        Dur,
	"rate":       Rate,
	"ratio":      Ratio,
	"count":      Count,
	"cpu":        CPU,
	"allocs":     func(x float64) string { return Count(Maybe(x)) },
	"throughput": func(s Scenario) *chart { return throughputChart(&s) },
	"waits":      func(s Scenario) *chart { return waitChart(&s) },
	"add":        func(a, b float64) string { return fmt.Sprintf("%.1f", a+b) },
	"sub":        func(a, b float64) string { return fmt.Sprintf("%.1f", a-b) },
	"mid":        func(a, b float64) string { return fmt.Sprintf("%.1f", (a+b)/2) },
}).Parse(htmlSource))

// WriteHTML writes r as a self-contained HTML page with, per scenario, the
// summary table, a throughput-vs-workers chart and a wait-time
// distribution chart. r must have been summarised.
func (r *Report) WriteHTML(w io.Writer) error {
	return page.Execute(w, r)
}
