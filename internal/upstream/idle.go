package upstream

import (
	"context"
	"errors"
	"time"
)

// errIdleTimeout is the cancellation cause when a response makes no progress
// for the idle read timeout.
var errIdleTimeout = errors.New("no data received within the idle read timeout")

// watchdog cancels a request when neither headers nor body bytes arrive for
// the idle duration. It works with any RoundTripper, so an injected test
// transport gets the same timeout as the default one.
type watchdog struct {
	idle  time.Duration
	timer *time.Timer
}

func startWatchdog(idle time.Duration, cancel context.CancelCauseFunc) *watchdog {
	return &watchdog{
		idle:  idle,
		timer: time.AfterFunc(idle, func() { cancel(errIdleTimeout) }),
	}
}

// kick restarts the idle period after progress.
func (w *watchdog) kick() {
	w.timer.Reset(w.idle)
}

func (w *watchdog) stop() {
	w.timer.Stop()
}

// timedOut reports whether the watchdog cancelled reqCtx.
func timedOut(reqCtx context.Context) bool {
	return errors.Is(context.Cause(reqCtx), errIdleTimeout)
}
