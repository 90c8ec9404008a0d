package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Results is everything one run measured.
type Results struct {
	Mode       string        `json:"mode"`
	Started    time.Time     `json:"started"`
	Duration   string        `json:"duration"`
	Machine    Machine       `json:"machine"`
	LoadBefore string        `json:"loadAverageBefore"`
	LoadAfter  string        `json:"loadAverageAfter"`
	Burst      []BurstRow    `json:"ciBurst"`
	Coalesce   []CoalesceRow `json:"coldCoalescing"`
	Warm       *Warm         `json:"warmServing"`
	Storm      []StormRow    `json:"upstream429Storm"`
	Growth     []GrowthRow   `json:"growth"`
	Targets    []Target      `json:"targets"`
}

// Machine describes where the run happened.
type Machine struct {
	CPUs     int    `json:"nproc"`
	CPUModel string `json:"cpuModel"`
	Memory   string `json:"memory"`
	Kernel   string `json:"kernel"`
	Go       string `json:"go"`
}

func describeMachine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), Go: runtime.Version()}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(data), "\n") {
			if name, value, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(name) == "model name" {
				m.CPUModel = strings.TrimSpace(value)
				break
			}
		}
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		first, _, _ := strings.Cut(string(data), "\n")
		m.Memory = strings.Join(strings.Fields(strings.TrimPrefix(first, "MemTotal:")), " ")
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(data))
	}
	return m
}

// loadAverage returns the 1, 5 and 15 minute load averages.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	fields := strings.Fields(string(data))
	if len(fields) < 3 {
		return ""
	}
	return strings.Join(fields[:3], " ")
}

// Target is one speed or memory goal, judged on numbers of this run.
type Target struct {
	Name     string  `json:"name"`
	Goal     string  `json:"goal"`
	Measured string  `json:"measured"`
	Value    float64 `json:"value"`
	Met      bool    `json:"met"`
	Judged   bool    `json:"judged"` // false when a number it needs was not measured
}

func (r *Results) warmTarget(name string) *WarmTarget {
	if r.Warm == nil {
		return nil
	}
	for i := range r.Warm.Targets {
		if r.Warm.Targets[i].Target == name {
			return &r.Warm.Targets[i]
		}
	}
	return nil
}

// peak returns the highest rate of the levels, in requests or MiB per second.
func peak(levels []LoadResult, mb bool) float64 {
	best := 0.0
	for _, l := range levels {
		v := l.PerSecond
		if mb {
			v = l.MBPerSecond
		}
		best = max(best, v)
	}
	return best
}

func (r *Results) evaluateTargets() {
	pc, reg, static := r.warmTarget("pullcache"), r.warmTarget("docker-registry proxy"), r.warmTarget("static file server")
	ratio := func(a, b float64) float64 {
		if b == 0 {
			return 0
		}
		return a / b
	}

	t := Target{Name: "warm manifest GETs by tag", Goal: "≥ 10× the reference mirror's rate"}
	if pc != nil && reg != nil {
		t.Value = ratio(pc.Manifests.PerSecond, reg.Manifests.PerSecond)
		t.Measured = fmt.Sprintf("%.1f× (%.0f/s against %.0f/s)", t.Value, pc.Manifests.PerSecond, reg.Manifests.PerSecond)
		t.Met, t.Judged = t.Value >= 10, true
	}
	r.Targets = append(r.Targets, t)

	t = Target{Name: "small-blob GETs", Goal: "≥ 0.6 of the static file server's peak rate"}
	if pc != nil && static != nil {
		t.Value = ratio(peak(pc.Small, false), peak(static.Small, false))
		t.Measured = fmt.Sprintf("%.2f (%.0f/s against %.0f/s)", t.Value, peak(pc.Small, false), peak(static.Small, false))
		t.Met, t.Judged = t.Value >= 0.6, true
	}
	r.Targets = append(r.Targets, t)

	t = Target{Name: "large-blob throughput", Goal: "≥ 0.9 of the static file server's peak"}
	if pc != nil && static != nil {
		t.Value = ratio(peak(pc.Large, true), peak(static.Large, true))
		t.Measured = fmt.Sprintf("%.2f (%.0f MiB/s against %.0f MiB/s)", t.Value, peak(pc.Large, true), peak(static.Large, true))
		t.Met, t.Judged = t.Value >= 0.9, true
	}
	r.Targets = append(r.Targets, t)

	t = Target{Name: "memory serving 8 large downloads", Goal: "peak RSS ≤ 64 MiB"}
	if pc != nil {
		t.Value = float64(pc.PeakRSSLarge8) / (1 << 20)
		t.Measured = fmt.Sprintf("%.1f MiB", t.Value)
		t.Met, t.Judged = pc.PeakRSSLarge8 > 0 && t.Value <= 64, true
	}
	r.Targets = append(r.Targets, t)

	t = Target{Name: "cold coalescing", Goal: "1 upstream fetch for all concurrent clients"}
	for _, row := range r.Coalesce {
		if row.Target == "pullcache" {
			t.Value = float64(row.UpstreamGets)
			t.Measured = fmt.Sprintf("%d upstream blob GETs for %d clients, %d succeeded", row.UpstreamGets, row.Clients, row.Succeeded)
			t.Met, t.Judged = row.UpstreamGets == 1 && row.Succeeded == row.Clients, true
		}
	}
	r.Targets = append(r.Targets, t)
}

func (r *Results) write(dir string) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode results: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), data, 0o644); err != nil {
		return fmt.Errorf("write results.json: %w", err)
	}
	plots, err := r.writePlots(dir)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.md"), []byte(r.markdown(plots)), 0o644); err != nil {
		return fmt.Errorf("write results.md: %w", err)
	}
	return nil
}

// rewriteReport reads dir/results.json and writes results.md and the plots
// again, for changes to the report that need no new measurement.
func rewriteReport(dir string) error {
	data, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err != nil {
		return fmt.Errorf("read results: %w", err)
	}
	var r Results
	if err := json.Unmarshal(data, &r); err != nil {
		return fmt.Errorf("decode results.json: %w", err)
	}
	return r.write(dir)
}
