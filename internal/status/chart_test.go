package status

import (
	"strings"
	"testing"
	"time"
)

func TestQuotaChartGapsAndWindow(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	points := []Point{
		{At: now.Add(-30 * time.Hour), Quota: true, Limit: 500, Remaining: 500}, // outside the window
		{At: now.Add(-20 * time.Hour), Quota: true, Limit: 100, Remaining: 90},
		{At: now.Add(-19 * time.Hour), Quota: true, Limit: 100, Remaining: 80},
		{At: now.Add(-10 * time.Hour)}, // no headers seen: a gap
		{At: now.Add(-2 * time.Hour), Quota: true, Limit: 100, Remaining: 60},
		{At: now, Quota: true, Limit: 100, Remaining: 40},
	}
	c := quotaChart(now, points)

	if c.Empty != "" || len(c.Lines) != 2 {
		t.Fatalf("chart %+v, want two lines", c)
	}
	remaining := c.Lines[1]
	if len(remaining.Points) != 2 {
		t.Errorf("remaining line has %d runs, want 2 split by the gap: %v", len(remaining.Points), remaining.Points)
	}
	if got := c.YTicks[len(c.YTicks)-1].Text; got != "100" {
		t.Errorf("top of the scale %s, want 100: the point older than 24 hours must not count", got)
	}
	if !remaining.Dot || remaining.DotX != chartWidth-padRight {
		t.Errorf("latest value marked at x=%v (dot %v), want the right edge %d", remaining.DotX, remaining.Dot, chartWidth-padRight)
	}
	if !strings.Contains(c.Summary, "40 of 100") {
		t.Errorf("summary %q, want 40 of 100", c.Summary)
	}
}

func TestPullsChartCountsFromWindowStart(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	points := []Point{
		{At: now.Add(-30 * time.Hour), Answered: 10, Spent: 5},
		{At: now.Add(-12 * time.Hour), Answered: 100, Spent: 20},
		{At: now, Answered: 160, Spent: 25},
	}
	c := pullsChart(now, points)
	if c.Empty != "" {
		t.Fatalf("chart empty: %s", c.Empty)
	}
	if !strings.Contains(c.Summary, "60 pulls answered, 5 spent") {
		t.Errorf("summary %q, want the growth within 24 hours: 60 answered, 5 spent", c.Summary)
	}

	if empty := pullsChart(now, []Point{{At: now, Answered: 7, Spent: 1}}); empty.Empty == "" {
		t.Errorf("a single point drew lines; want the no-pulls message")
	}
}
