package admin

import (
	"sync"
	"time"
)

// StoreWriteReporter receives the outcome of store writes. The cache calls
// StoreWriteFailed when it cannot write an object (a full disk, say) and
// then streams the content to the client without storing it. It calls
// StoreWriteSucceeded after a successful write, which clears the failing
// state. A store write failure does not make pullcache unready, so it
// keeps serving pulls.
type StoreWriteReporter interface {
	StoreWriteFailed(err error)
	StoreWriteSucceeded()
}

// StoreReadReporter receives failed store reads other than a missing
// object. The cache then serves from upstream without storing, so a read
// failure is counted but does not change readiness either.
type StoreReadReporter interface {
	StoreReadFailed(err error)
}

// Reporters fans one report out to several reporters, such as the admin
// handler and the metrics.
type Reporters []StoreWriteReporter

// StoreReadFailed passes err to the reporters that take read failures.
func (rs Reporters) StoreReadFailed(err error) {
	for _, r := range rs {
		if rr, ok := r.(StoreReadReporter); ok {
			rr.StoreReadFailed(err)
		}
	}
}

func (rs Reporters) StoreWriteFailed(err error) {
	for _, r := range rs {
		r.StoreWriteFailed(err)
	}
}

func (rs Reporters) StoreWriteSucceeded() {
	for _, r := range rs {
		r.StoreWriteSucceeded()
	}
}

// storeWrites is the state /healthz reports about store writes.
type storeWrites struct {
	mu        sync.Mutex
	failing   bool
	errors    int64
	lastError string
	lastAt    time.Time
}

// StoreWriteHealth is the store-write part of the /healthz details.
type StoreWriteHealth struct {
	// Failing is true from a failed write until the next successful one.
	Failing     bool      `json:"failing"`
	Errors      int64     `json:"errors"`
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
}

func (s *storeWrites) failed(err error, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failing = true
	s.errors++
	s.lastError = err.Error()
	s.lastAt = now
}

func (s *storeWrites) succeeded() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failing = false
}

func (s *storeWrites) health() StoreWriteHealth {
	s.mu.Lock()
	defer s.mu.Unlock()
	return StoreWriteHealth{Failing: s.failing, Errors: s.errors, LastError: s.lastError, LastErrorAt: s.lastAt}
}
