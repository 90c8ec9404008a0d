package metrics

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pullcache/pullcache/internal/storage"
)

// storePrefixes are the top-level parts of the store that the usage
// sampler walks; each becomes a value of the "area" label.
var storePrefixes = []string{"blobs/", "manifests/", "repositories/"}

// StoreUsage is the store's size at the last sample.
type StoreUsage struct {
	Bytes   int64
	Objects int64
	// Areas splits the totals by top-level key prefix (blobs, manifests,
	// repositories).
	Areas   map[string]AreaUsage
	Sampled time.Time
	// Err is the last sample's failure; the totals are then those of the
	// last successful sample.
	Err error
}

// AreaUsage is one area's share of StoreUsage.
type AreaUsage struct {
	Bytes   int64
	Objects int64
}

// storeCollector exposes the last StoreUsage sample. Walking a large store
// on every scrape would be slow, so SampleStore fills it periodically.
type storeCollector struct {
	bytes, objects *prometheus.Desc

	mu    sync.Mutex
	usage StoreUsage
}

func newStoreCollector() *storeCollector {
	return &storeCollector{
		bytes: prometheus.NewDesc(namespace+"_store_bytes",
			"Bytes of committed objects in the store at the last sample, by area (blobs, manifests, repositories).", []string{"area"}, nil),
		objects: prometheus.NewDesc(namespace+"_store_objects",
			"Committed objects in the store at the last sample, by area (blobs, manifests, repositories).", []string{"area"}, nil),
	}
}

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.bytes
	ch <- c.objects
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.usage.Sampled.IsZero() {
		return
	}
	for area, u := range c.usage.Areas {
		ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.GaugeValue, float64(u.Bytes), area)
		ch <- prometheus.MustNewConstMetric(c.objects, prometheus.GaugeValue, float64(u.Objects), area)
	}
}

// SampleStore walks the store once and updates the store gauges.
func (m *Metrics) SampleStore(ctx context.Context, store storage.Store, now time.Time) error {
	usage := StoreUsage{Areas: map[string]AreaUsage{}, Sampled: now}
	for _, prefix := range storePrefixes {
		area := strings.TrimSuffix(prefix, "/")
		var a AreaUsage
		err := store.Walk(ctx, prefix, func(_ string, info storage.Info) error {
			a.Bytes += info.Size
			a.Objects++
			return nil
		})
		if err != nil {
			m.store.mu.Lock()
			m.store.usage.Err = err
			m.store.mu.Unlock()
			return err
		}
		usage.Areas[area] = a
		usage.Bytes += a.Bytes
		usage.Objects += a.Objects
	}

	m.store.mu.Lock()
	m.store.usage = usage
	m.store.mu.Unlock()
	return nil
}

// StoreUsage returns the last sample; its Sampled time is zero before the
// first one.
func (m *Metrics) StoreUsage() StoreUsage {
	m.store.mu.Lock()
	defer m.store.mu.Unlock()
	return m.store.usage
}

// RunStoreSampler samples the store now and then every interval until ctx
// ends. A failed sample is logged and the previous values stay.
func (m *Metrics) RunStoreSampler(ctx context.Context, store storage.Store, interval time.Duration, log *slog.Logger) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		if err := m.SampleStore(ctx, store, time.Now()); err != nil && ctx.Err() == nil {
			log.Warn("measure store size", slog.Any("err", err))
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// StoreWriteFailed counts a failed store write. A full disk (ENOSPC, or
// EDQUOT for a quota) has its own reason.
func (m *Metrics) StoreWriteFailed(err error) {
	m.storeWriteErrors.WithLabelValues(writeErrorReason(err)).Inc()
}

func writeErrorReason(err error) string {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return "no_space"
	}
	return "other"
}

// StoreReadFailed counts a failed store read.
func (m *Metrics) StoreReadFailed(error) {
	m.storeReadErrors.Inc()
}

// StoreWriteSucceeded does nothing: the counter only counts failures. It
// lets Metrics stand wherever a store-write reporter is expected.
func (m *Metrics) StoreWriteSucceeded() {}
