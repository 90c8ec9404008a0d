package status

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Chart geometry in SVG user units; the SVG scales to its box.
const (
	chartWidth  = 560
	chartHeight = 170
	padLeft     = 44
	padRight    = 10
	padTop      = 10
	padBottom   = 24
)

// chart is an SVG line chart over the last HistorySpan, ready for the
// template.
type chart struct {
	Title   string
	Width   int
	Height  int
	Lines   []chartLine
	YTicks  []tick
	XTicks  []tick
	Empty   string // shown instead of lines when there is nothing to draw
	Legend  []chartLine
	PlotX0  float64
	PlotX1  float64
	PlotY0  float64
	PlotY1  float64
	Summary string // text alternative for screen readers
}

type chartLine struct {
	Class  string
	Label  string
	Points []string // one polyline per run of points; gaps split runs
	// Dot marks the latest value, so that a single sample shows too.
	Dot        bool
	DotX, DotY float64
}

type tick struct {
	Pos  float64
	Text string
}

// scale maps times and values into the plot area.
type scale struct {
	from, to time.Time
	maxY     float64
}

func (s scale) x(t time.Time) float64 {
	span := s.to.Sub(s.from).Seconds()
	f := t.Sub(s.from).Seconds() / span
	return padLeft + f*(chartWidth-padLeft-padRight)
}

func (s scale) y(v float64) float64 {
	f := v / s.maxY
	return chartHeight - padBottom - f*(chartHeight-padTop-padBottom)
}

func newChart(title string, now time.Time, maxY float64) (*chart, scale) {
	if maxY <= 0 {
		maxY = 1
	}
	sc := scale{from: now.Add(-HistorySpan), to: now, maxY: maxY}
	c := &chart{
		Title: title, Width: chartWidth, Height: chartHeight,
		PlotX0: padLeft, PlotX1: chartWidth - padRight, PlotY0: padTop, PlotY1: chartHeight - padBottom,
	}
	for h := 24; h >= 0; h -= 6 {
		text := fmt.Sprintf("-%dh", h)
		if h == 0 {
			text = "now"
		}
		c.XTicks = append(c.XTicks, tick{Pos: sc.x(now.Add(-time.Duration(h) * time.Hour)), Text: text})
	}
	for _, f := range []float64{0, 0.5, 1} {
		c.YTicks = append(c.YTicks, tick{Pos: sc.y(f * maxY), Text: shortNumber(f * maxY)})
	}
	return c, sc
}

// newLine draws one series with a dot on its latest value.
func newLine(sc scale, class, label string, points []Point, value func(Point) (float64, bool)) chartLine {
	l := chartLine{Class: class, Label: label, Points: stepLine(sc, points, value)}
	for i := len(points) - 1; i >= 0; i-- {
		if v, ok := value(points[i]); ok && !points[i].At.Before(sc.from) {
			l.Dot, l.DotX, l.DotY = true, sc.x(points[i].At), sc.y(v)
			break
		}
	}
	return l
}

// stepLine draws values as steps: each value holds until the next point.
// Points for which value reports false leave a gap.
func stepLine(sc scale, points []Point, value func(Point) (float64, bool)) []string {
	var runs []string
	var cur []string
	flush := func() {
		if len(cur) > 0 {
			runs = append(runs, strings.Join(cur, " "))
			cur = nil
		}
	}
	var lastY float64
	for _, p := range points {
		if p.At.Before(sc.from) {
			continue
		}
		v, ok := value(p)
		if !ok {
			flush()
			continue
		}
		x, y := sc.x(p.At), sc.y(v)
		if len(cur) > 0 {
			cur = append(cur, coord(x, lastY))
		}
		cur = append(cur, coord(x, y))
		lastY = y
	}
	flush()
	return runs
}

func coord(x, y float64) string {
	return strconv.FormatFloat(x, 'f', 1, 64) + "," + strconv.FormatFloat(y, 'f', 1, 64)
}

// quotaChart draws the pulls remaining against the limit.
func quotaChart(now time.Time, points []Point) *chart {
	maxLimit := 0
	for _, p := range points {
		if p.Quota && !p.At.Before(now.Add(-HistorySpan)) {
			maxLimit = max(maxLimit, p.Limit, p.Remaining)
		}
	}
	c, sc := newChart("Pull quota left, last 24 hours", now, float64(maxLimit))
	if maxLimit == 0 {
		c.Empty = "No rate-limit headers seen: this upstream reports no pull limit, or it has not been asked yet."
		return c
	}
	limit := newLine(sc, "limit", "limit", points, func(p Point) (float64, bool) { return float64(p.Limit), p.Quota })
	left := newLine(sc, "remaining", "remaining", points, func(p Point) (float64, bool) { return float64(p.Remaining), p.Quota })
	c.Lines = []chartLine{limit, left}
	c.Legend = c.Lines
	last := points[len(points)-1]
	c.Summary = fmt.Sprintf("%d of %d pulls left now", last.Remaining, last.Limit)
	return c
}

// pullsChart draws the pulls answered and spent since the start of the
// window.
func pullsChart(now time.Time, points []Point) *chart {
	var first *Point
	for i := range points {
		if !points[i].At.Before(now.Add(-HistorySpan)) {
			first = &points[i]
			break
		}
	}
	var maxY float64
	if first != nil {
		last := points[len(points)-1]
		maxY = max(last.Answered-first.Answered, last.Spent-first.Spent)
	}
	c, sc := newChart("Pulls answered and spent upstream, last 24 hours", now, maxY)
	if first == nil || maxY == 0 {
		c.Empty = "No pulls in the last 24 hours."
		return c
	}
	base := *first
	answered := newLine(sc, "answered", "answered", points, func(p Point) (float64, bool) { return p.Answered - base.Answered, true })
	spent := newLine(sc, "spent", "spent upstream", points, func(p Point) (float64, bool) { return p.Spent - base.Spent, true })
	c.Lines = []chartLine{answered, spent}
	c.Legend = c.Lines
	last := points[len(points)-1]
	c.Summary = fmt.Sprintf("%s pulls answered, %s spent upstream in the last 24 hours", shortNumber(last.Answered-base.Answered), shortNumber(last.Spent-base.Spent))
	return c
}

// shortNumber prints a count without decimals when it has none.
func shortNumber(v float64) string {
	if v == float64(int64(v)) {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}
