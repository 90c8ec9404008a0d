package testproc

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRunWaitsAndStops(t *testing.T) {
	var p *Process
	logPath := filepath.Join(t.TempDir(), "sleep.log")
	t.Run("run", func(t *testing.T) {
		calls := 0
		p = Run(t, "sleep", exec.Command("sh", "-c", "echo started; exec sleep 60"), logPath, Options{
			Ready: func() error {
				calls++
				if calls < 3 {
					return errors.New("not yet")
				}
				return nil
			},
			ReadyTimeout: 10 * time.Second,
			Interval:     time.Millisecond,
			StopTimeout:  10 * time.Second,
			FailOnKill:   true,
		})
		if calls != 3 {
			t.Errorf("Ready called %d times, want 3", calls)
		}
		select {
		case <-p.Exited:
			t.Fatal("the process exited before cleanup")
		default:
		}
	})
	select {
	case <-p.Exited:
	default:
		t.Fatal("the process still runs after cleanup")
	}
	if log := p.Log(0); !strings.Contains(log, "started") {
		t.Errorf("log = %q, want the process's output", log)
	}
}

func TestWaitReadyNoticesExit(t *testing.T) {
	p, err := Start("false", exec.Command("false"), filepath.Join(t.TempDir(), "false.log"))
	if err != nil {
		t.Fatal(err)
	}
	err = p.WaitReady(10*time.Second, time.Millisecond, func() error { return errors.New("never") })
	if err == nil || !strings.Contains(err.Error(), "exited") {
		t.Errorf("WaitReady = %v, want an error saying the process exited", err)
	}
}

func TestStopKillsAfterTimeout(t *testing.T) {
	p, err := Start("sh", exec.Command("sh", "-c", "trap '' TERM; exec sleep 60"), filepath.Join(t.TempDir(), "sh.log"))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // let the shell install its trap
	if p.Stop(200 * time.Millisecond) {
		t.Error("Stop reported an exit on SIGTERM from a process that ignores it")
	}
}

func TestHTTPReady(t *testing.T) {
	status := http.StatusServiceUnavailable
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(status) }))
	defer srv.Close()

	ready := HTTPReady(srv.URL, http.StatusOK)
	if err := ready(); err == nil {
		t.Error("HTTPReady accepted 503, want only 200")
	}
	status = http.StatusOK
	if err := ready(); err != nil {
		t.Errorf("HTTPReady on 200: %v", err)
	}
	if err := HTTPReady(srv.URL)(); err != nil {
		t.Errorf("HTTPReady with any status: %v", err)
	}
}
