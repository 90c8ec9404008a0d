package main

import (
	"fmt"
	"strings"
)

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// ratioText returns a/b formatted, or "–" when b is missing.
func ratioText(a, b float64) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

func (r *Results) markdown(plots []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# pullcache side-by-side results (%s mode)\n\n", r.Mode)
	fmt.Fprintf(&b, "Started %s, took %s. Machine: %d CPUs (%s), %s memory, Linux %s, %s. Load average before: %s; after: %s.\n\n",
		r.Started.Format("2006-01-02 15:04 MST"), r.Duration, r.Machine.CPUs, r.Machine.CPUModel, r.Machine.Memory, r.Machine.Kernel, r.Machine.Go, r.LoadBefore, r.LoadAfter)

	b.WriteString("## Targets\n\n")
	if r.Mode != "full" {
		// The goals speak of full-size workloads; small sizes only show
		// that each workload runs.
		b.WriteString("The goals are for the full sizes, so this run does not judge them.\n\n")
	}
	b.WriteString("| target | goal | measured | result |\n| --- | --- | --- | --- |\n")
	for _, t := range r.Targets {
		result := "not measured"
		switch {
		case r.Mode != "full":
			result = "not judged at " + r.Mode + " sizes"
		case t.Judged:
			result = map[bool]string{true: "met", false: "**not met**"}[t.Met]
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", t.Name, t.Goal, t.Measured, result)
	}

	r.burstMarkdown(&b)
	r.coalesceMarkdown(&b)
	r.warmMarkdown(&b)
	r.stormMarkdown(&b)
	r.growthMarkdown(&b)

	if len(plots) > 0 {
		b.WriteString("\n## Plots\n\n")
		for _, p := range plots {
			fmt.Fprintf(&b, "![%s](%s)\n\n", strings.TrimSuffix(p, ".svg"), p)
		}
	}
	return b.String()
}

func (r *Results) burstMarkdown(b *strings.Builder) {
	if len(r.Burst) == 0 {
		return
	}
	var ref *BurstRow
	for i := range r.Burst {
		if r.Burst[i].Target == "docker-registry proxy" {
			ref = &r.Burst[i]
		}
	}
	fmt.Fprintf(b, "\n## CI burst\n\n%d builds, %d at a time, each pulling 5 images (linux/amd64 from an OCI index and a Docker manifest list, three single-arch images); library/moving:v1 moves to a new digest when half of the builds have finished.\n\n", r.Burst[0].Builds, r.Burst[0].Concurrency)
	b.WriteString("| target | builds failed | pulls charged | upstream manifest GETs | upstream manifest HEADs | upstream blob GETs | MiB from upstream | wall s | manifest p50 ms | manifest p99 ms | builds after the move that got the new digest | pulls charged vs reference | wall vs reference |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, row := range r.Burst {
		refGets, refWall := 0.0, 0.0
		if ref != nil {
			refGets, refWall = float64(ref.PullsCharged), ref.WallSeconds
		}
		fmt.Fprintf(b, "| %s | %d | %d | %d | %d | %d | %.1f | %.2f | %.2f | %.2f | %d of %d | %s | %s |\n",
			row.Target, row.FailedBuilds, row.PullsCharged, row.UpstreamGets, row.UpstreamHeads, row.UpstreamBlobGets, mib(row.UpstreamBytes),
			row.WallSeconds, row.ManifestP50Ms, row.ManifestP99Ms, row.NewDigestAfterMove, row.BuildsAfterMove,
			ratioText(float64(row.PullsCharged), refGets), ratioText(row.WallSeconds, refWall))
	}
}

func (r *Results) coalesceMarkdown(b *strings.Builder) {
	if len(r.Coalesce) == 0 {
		return
	}
	row0 := r.Coalesce[0]
	fmt.Fprintf(b, "\n## Cold coalescing\n\n%d clients request one uncached %.0f MiB blob at the same moment.\n\n", row0.Clients, mib(row0.BlobBytes))
	b.WriteString("| target | clients served | upstream blob GETs | MiB from upstream | s until every client has its last byte | peak RSS MiB | time vs reference |\n| --- | --- | --- | --- | --- | --- | --- |\n")
	refTime := 0.0
	for _, row := range r.Coalesce {
		if row.Target == "docker-registry proxy" {
			refTime = row.AllDoneSeconds
		}
	}
	for _, row := range r.Coalesce {
		rss := "–"
		if row.PeakRSSBytes > 0 {
			rss = fmt.Sprintf("%.1f", mib(row.PeakRSSBytes))
		}
		fmt.Fprintf(b, "| %s | %d of %d | %d | %.0f | %.2f | %s | %s |\n", row.Target, row.Succeeded, row.Clients, row.UpstreamGets,
			mib(row.UpstreamBytes), row.AllDoneSeconds, rss, ratioText(row.AllDoneSeconds, refTime))
	}
}

func (r *Results) warmMarkdown(b *strings.Builder) {
	if r.Warm == nil {
		return
	}
	pc, reg, static := r.warmTarget("pullcache"), r.warmTarget("docker-registry proxy"), r.warmTarget("static file server")
	rate := func(t *WarmTarget, f func(*WarmTarget) float64) float64 {
		if t == nil {
			return 0
		}
		return f(t)
	}

	fmt.Fprintf(b, "\n## Warm serving\n\nEverything is stored before the measurement. The static file server is Go's http.ServeFile in its own process, serving hard links to pullcache's blob files and the manifest bytes. Each level runs closed-loop for a fixed time.\n\n")
	b.WriteString("### Manifest GETs by tag\n\n| target | concurrency | GETs/s | p50 ms | p99 ms | vs reference | vs static |\n| --- | --- | --- | --- | --- | --- | --- |\n")
	manifests := func(t *WarmTarget) float64 { return t.Manifests.PerSecond }
	for _, t := range r.Warm.Targets {
		fmt.Fprintf(b, "| %s | %d | %.0f | %.2f | %.2f | %s | %s |\n", t.Target, t.Manifests.Concurrency, t.Manifests.PerSecond,
			t.Manifests.P50Ms, t.Manifests.P99Ms, ratioText(t.Manifests.PerSecond, rate(reg, manifests)), ratioText(t.Manifests.PerSecond, rate(static, manifests)))
	}

	levelTable := func(title, unit string, levels func(*WarmTarget) []LoadResult, value func(LoadResult) float64) {
		fmt.Fprintf(b, "\n### %s\n\n| concurrency | pullcache %s | reference %s | static %s | pullcache vs reference | pullcache vs static | pullcache p99 ms | reference p99 ms | static p99 ms |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n", title, unit, unit, unit)
		if pc == nil {
			return
		}
		for i, l := range levels(pc) {
			at := func(t *WarmTarget) (float64, float64) {
				if t == nil || i >= len(levels(t)) {
					return 0, 0
				}
				return value(levels(t)[i]), levels(t)[i].P99Ms
			}
			rv, rp := at(reg)
			sv, sp := at(static)
			fmt.Fprintf(b, "| %d | %.0f | %.0f | %.0f | %s | %s | %.2f | %.2f | %.2f |\n", l.Concurrency, value(l), rv, sv,
				ratioText(value(l), rv), ratioText(value(l), sv), l.P99Ms, rp, sp)
		}
	}
	levelTable(fmt.Sprintf("Small blobs (%.0f KiB)", float64(r.Warm.SmallBlobBytes)/1024), "GETs/s",
		func(t *WarmTarget) []LoadResult { return t.Small }, func(l LoadResult) float64 { return l.PerSecond })
	levelTable(fmt.Sprintf("Large blob (%.0f MiB)", mib(r.Warm.LargeBlobBytes)), "MiB/s",
		func(t *WarmTarget) []LoadResult { return t.Large }, func(l LoadResult) float64 { return l.MBPerSecond })

	b.WriteString("\n### Peak RSS while serving the large blob at the highest concurrency\n\n| target | peak RSS MiB |\n| --- | --- |\n")
	for _, t := range r.Warm.Targets {
		fmt.Fprintf(b, "| %s | %.1f |\n", t.Target, mib(t.PeakRSSLarge8))
	}
}

func (r *Results) stormMarkdown(b *strings.Builder) {
	if len(r.Storm) == 0 {
		return
	}
	b.WriteString("\n## Upstream 429 storm\n\nEvery image is stored first. Then the upstream returns 429 and the same images are pulled again, 8 at a time.\n\n")
	b.WriteString("| target | upstream fault | pulls | succeeded | share | wall s | pull p50 ms | pull p99 ms | first error |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, row := range r.Storm {
		fmt.Fprintf(b, "| %s | %s | %d | %d | %.0f%% | %.2f | %.1f | %.1f | %s |\n", row.Target, row.Fault, row.Pulls, row.Succeeded, 100*row.Share,
			row.WallSeconds, row.PullP50Ms, row.PullP99Ms, strings.ReplaceAll(tail(row.FirstErr, 120), "|", "/"))
	}
}

func (r *Results) growthMarkdown(b *strings.Builder) {
	if len(r.Growth) == 0 {
		return
	}
	b.WriteString("\n## Growth\n\nManifests stored over 100 repositories, tags within their TTL; random tags read 8 at a time. Start-up is from exec to the first 200 on GET /v2/. The files are written back (sync) before the server starts. The first pass of reads starts right after start-up; for pullcache a second pass of the same size follows. Peak RSS covers start-up and both passes.\n\n")
	b.WriteString("| target | stored manifests | fill s | start-up s | first pass p50 ms | first pass p99 ms | second pass p50 ms | second pass p99 ms | read errors | peak RSS MiB | RSS after MiB |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, row := range r.Growth {
		p50, p99 := "–", "–"
		if row.SteadyRequests > 0 {
			p50, p99 = fmt.Sprintf("%.2f", row.SteadyP50Ms), fmt.Sprintf("%.2f", row.SteadyP99Ms)
		}
		fmt.Fprintf(b, "| %s | %d | %.1f | %.3f | %.2f | %.2f | %s | %s | %d | %.1f | %.1f |\n", row.Target, row.Stored, row.FillSeconds,
			row.StartupSeconds, row.P50Ms, row.P99Ms, p50, p99, row.Errors+row.SteadyErrors, mib(row.PeakRSSBytes), mib(row.RSSBytes))
	}
}
