package main

import (
	"fmt"
	"html"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Series is one line of a chart.
type Series struct {
	Name   string
	Values []float64
}

var seriesColors = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd"}

const (
	chartW, chartH                         = 640, 360
	marginL, marginR, marginT, marginB int = 70, 40, 40, 60
)

// lineChart draws series over categorical x positions with a linear y
// axis from zero, or a log10 y axis when logY is set.
func lineChart(title, xLabel, yLabel string, xs []string, series []Series, logY bool) string {
	maxY := 0.0
	minY := math.Inf(1)
	for _, s := range series {
		for _, v := range s.Values {
			maxY = max(maxY, v)
			if v > 0 {
				minY = min(minY, v)
			}
		}
	}
	if maxY == 0 {
		maxY = 1
	}
	plotW := float64(chartW - marginL - marginR)
	plotH := float64(chartH - marginT - marginB)
	lo, hi := 0.0, maxY*1.1
	if logY {
		lo, hi = math.Floor(math.Log10(minY)), math.Ceil(math.Log10(maxY))
		if hi == lo {
			hi++
		}
	}
	yPos := func(v float64) float64 {
		if logY {
			v = math.Log10(max(v, math.Pow(10, lo)))
		}
		return float64(marginT) + plotH*(1-(v-lo)/(hi-lo))
	}
	xPos := func(i int) float64 {
		if len(xs) == 1 {
			return float64(marginL) + plotW/2
		}
		return float64(marginL) + plotW*float64(i)/float64(len(xs)-1)
	}

	var b strings.Builder
	svgHeader(&b, title)
	axes(&b, xLabel, yLabel)
	var tickValues []float64
	if logY {
		for decade := lo; decade <= hi; decade++ {
			tickValues = append(tickValues, math.Pow(10, decade))
		}
	} else {
		for k := 0; k <= 5; k++ {
			tickValues = append(tickValues, lo+(hi-lo)*float64(k)/5)
		}
	}
	for _, v := range tickValues {
		y := yPos(v)
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>`+"\n", marginL, y, chartW-marginR, y)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" font-size="11">%s</text>`+"\n", marginL-6, y+4, formatTick(v))
	}
	for i, x := range xs {
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" font-size="11">%s</text>`+"\n", xPos(i), chartH-marginB+16, html.EscapeString(x))
	}
	for si, s := range series {
		color := seriesColors[si%len(seriesColors)]
		var points []string
		for i, v := range s.Values {
			points = append(points, fmt.Sprintf("%.1f,%.1f", xPos(i), yPos(v)))
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`+"\n", xPos(i), yPos(v), color)
		}
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>`+"\n", strings.Join(points, " "), color)
		legend(&b, si, s.Name, color)
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// barChart draws one bar per label on a linear axis from zero.
func barChart(title, yLabel string, labels []string, values []float64) string {
	maxY := 0.0
	for _, v := range values {
		maxY = max(maxY, v)
	}
	if maxY == 0 {
		maxY = 1
	}
	hi := maxY * 1.15
	plotW := float64(chartW - marginL - marginR)
	plotH := float64(chartH - marginT - marginB)

	var b strings.Builder
	svgHeader(&b, title)
	axes(&b, "", yLabel)
	slot := plotW / float64(len(values))
	for i, v := range values {
		h := plotH * v / hi
		x := float64(marginL) + slot*float64(i) + slot*0.2
		y := float64(marginT) + plotH - h
		color := seriesColors[i%len(seriesColors)]
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`+"\n", x, y, slot*0.6, h, color)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" font-size="11">%s</text>`+"\n", x+slot*0.3, y-4, formatTick(v))
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" font-size="11">%s</text>`+"\n", x+slot*0.3, chartH-marginB+16, html.EscapeString(labels[i]))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func svgHeader(b *strings.Builder, title string) {
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif">`+"\n", chartW, chartH, chartW, chartH)
	fmt.Fprintf(b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(b, `<text x="%d" y="22" text-anchor="middle" font-size="14" font-weight="bold">%s</text>`+"\n", chartW/2, html.EscapeString(title))
}

func axes(b *strings.Builder, xLabel, yLabel string) {
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`+"\n", marginL, chartH-marginB, chartW-marginR, chartH-marginB)
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`+"\n", marginL, marginT, marginL, chartH-marginB)
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle" font-size="12">%s</text>`+"\n", (chartW+marginL)/2, chartH-20, html.EscapeString(xLabel))
	fmt.Fprintf(b, `<text x="16" y="%d" text-anchor="middle" font-size="12" transform="rotate(-90 16 %d)">%s</text>`+"\n", chartH/2, chartH/2, html.EscapeString(yLabel))
}

func legend(b *strings.Builder, i int, name, color string) {
	y := marginT + 4 + 16*i
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/>`+"\n", marginL+10, y, color)
	fmt.Fprintf(b, `<text x="%d" y="%d" font-size="11">%s</text>`+"\n", marginL+24, y+9, html.EscapeString(name))
}

func formatTick(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

// writePlots writes the SVG charts and returns their file names.
func (r *Results) writePlots(dir string) ([]string, error) {
	charts := map[string]string{}
	var order []string
	add := func(name, svg string) {
		charts[name] = svg
		order = append(order, name)
	}

	if r.Warm != nil && len(r.Warm.Targets) > 0 {
		var xs []string
		for _, l := range r.Warm.Targets[0].Small {
			xs = append(xs, strconv.Itoa(l.Concurrency))
		}
		var small, large []Series
		var lxs []string
		for _, l := range r.Warm.Targets[0].Large {
			lxs = append(lxs, strconv.Itoa(l.Concurrency))
		}
		var names []string
		var manifestRates []float64
		for _, t := range r.Warm.Targets {
			s, g := Series{Name: t.Target}, Series{Name: t.Target}
			for _, l := range t.Small {
				s.Values = append(s.Values, l.PerSecond)
			}
			for _, l := range t.Large {
				g.Values = append(g.Values, l.MBPerSecond)
			}
			small, large = append(small, s), append(large, g)
			names = append(names, t.Target)
			manifestRates = append(manifestRates, t.Manifests.PerSecond)
		}
		add("warm-small-blobs.svg", lineChart("Warm small-blob GETs", "concurrency", "GETs per second (log)", xs, small, true))
		add("warm-large-blob.svg", lineChart("Warm large-blob throughput", "concurrency", "MiB per second", lxs, large, false))
		add("warm-manifests.svg", barChart("Warm manifest GETs by tag", "GETs per second", names, manifestRates))
	}
	if len(r.Burst) > 0 {
		var names []string
		var gets []float64
		for _, row := range r.Burst {
			names = append(names, row.Target)
			gets = append(gets, float64(row.PullsCharged))
		}
		add("burst-pulls-charged.svg", barChart("CI burst: pulls charged upstream", "pulls", names, gets))
	}
	if len(r.Coalesce) > 0 {
		var names []string
		var mibs []float64
		for _, row := range r.Coalesce {
			names = append(names, row.Target)
			mibs = append(mibs, mib(row.UpstreamBytes))
		}
		add("coalesce-upstream-bytes.svg", barChart("Cold coalescing: MiB fetched from upstream", "MiB", names, mibs))
	}
	var xs []string
	p50, p99 := Series{Name: "p50, first pass"}, Series{Name: "p99, first pass"}
	s50, s99 := Series{Name: "p50, second pass"}, Series{Name: "p99, second pass"}
	for _, row := range r.Growth {
		if row.Target == "pullcache" {
			xs = append(xs, strconv.Itoa(row.Stored))
			p50.Values = append(p50.Values, row.P50Ms)
			p99.Values = append(p99.Values, row.P99Ms)
			s50.Values = append(s50.Values, row.SteadyP50Ms)
			s99.Values = append(s99.Values, row.SteadyP99Ms)
		}
	}
	if len(xs) > 0 {
		add("growth-latency.svg", lineChart("pullcache manifest latency by stored manifests", "stored manifests", "ms (log)", xs, []Series{p50, p99, s50, s99}, true))
	}

	for _, name := range order {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(charts[name]), 0o644); err != nil {
			return nil, fmt.Errorf("write %s: %w", name, err)
		}
	}
	return order, nil
}
