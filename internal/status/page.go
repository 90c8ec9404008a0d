package status

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"slices"
	"time"

	"github.com/dustin/go-humanize"
)

//go:embed page.html
var pageSource string

var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{
	"count":   func(v float64) string { return humanize.Comma(int64(math.Round(v))) },
	"bytes":   func(v float64) string { return humanize.IBytes(uint64(max(v, 0))) },
	"ibytes":  func(v int64) string { return humanize.IBytes(uint64(max(v, 0))) },
	"percent": func(v float64) string { return fmt.Sprintf("%.1f%%", 100*v) },
	"ago":     func(t time.Time, now time.Time) string { return humanize.RelTime(t, now, "ago", "from now") },
	"clock":   func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"ratio": func(part, whole float64) string {
		if whole <= 0 {
			return "–"
		}
		return fmt.Sprintf("%.1f%%", 100*part/whole)
	},
}).Parse(pageSource))

// pageData is the template's input.
type pageData struct {
	Report
	RefreshSeconds int
	Statuses       []statusCount
	Upstreams      []upstreamView
}

type statusCount struct {
	Status string
	Count  float64
}

type upstreamView struct {
	UpstreamReport
	Quota *chart
	Pulls *chart
}

// statusOrder is the order the request table lists cache statuses in.
var statusOrder = []string{"HIT", "REVALIDATED", "STALE", "MISS", "BYPASS", "error"}

// ServeHTTP serves the page at any path and the JSON report at
// /status.json.
func (s *Status) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	report, err := s.Report()
	if err != nil {
		http.Error(w, "status report: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Cache-Control", "no-store")

	if r.URL.Path == "/status.json" {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(report)
		return
	}

	data := pageData{Report: report, RefreshSeconds: int(s.o.Refresh / time.Second)}
	for _, st := range statusOrder {
		data.Statuses = append(data.Statuses, statusCount{Status: st, Count: report.Requests[st]})
	}
	for _, u := range report.Upstreams {
		data.Upstreams = append(data.Upstreams, upstreamView{
			UpstreamReport: u,
			Quota:          quotaChart(report.GeneratedAt, u.History),
			Pulls:          pullsChart(report.GeneratedAt, u.History),
		})
	}
	data.Errors = slices.Clone(report.Errors)

	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, data); err != nil {
		http.Error(w, "render status page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	// The page loads nothing from anywhere: styles and charts are inline.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:")
	w.Write(buf.Bytes())
}
