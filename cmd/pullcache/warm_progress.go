package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// imageProgress receives the progress of one image's pull.
type imageProgress interface {
	start(blobs int, bytes int64)
	addBytes(n int64)
	blobDone()
	finish(res warmResult, err error)
}

// progressBoard shows the progress of every image: redrawn bars on a
// terminal, plain lines otherwise.
type progressBoard struct {
	out      io.Writer
	terminal bool

	mu     sync.Mutex
	images []*imageState
	drawn  int // lines drawn last time, for redrawing in place
	stop   chan struct{}
	done   chan struct{}
}

// barRedraw is how often bars are redrawn on a terminal.
const barRedraw = 200 * time.Millisecond

// barWidth is the width of a progress bar in characters.
const barWidth = 30

type imageState struct {
	board *progressBoard
	name  string

	blobs, blobsDone int
	total, received  int64
	status           string // empty while in progress
}

func newProgressBoard(out io.Writer, terminal bool) *progressBoard {
	b := &progressBoard{out: out, terminal: terminal, stop: make(chan struct{}), done: make(chan struct{})}
	if terminal {
		go b.redrawLoop()
	} else {
		close(b.done)
	}
	return b
}

func (b *progressBoard) add(name string) *imageState {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := &imageState{board: b, name: name}
	b.images = append(b.images, s)
	return s
}

// close draws the final state and stops redrawing.
func (b *progressBoard) close() {
	if b.terminal {
		close(b.stop)
		<-b.done
	}
}

func (b *progressBoard) redrawLoop() {
	defer close(b.done)
	ticker := time.NewTicker(barRedraw)
	defer ticker.Stop()
	for {
		select {
		case <-ticker.C:
			b.redraw()
		case <-b.stop:
			b.redraw()
			return
		}
	}
}

// redraw moves the cursor up over the last drawing and draws every bar.
func (b *progressBoard) redraw() {
	b.mu.Lock()
	defer b.mu.Unlock()
	var sb strings.Builder
	if b.drawn > 0 {
		fmt.Fprintf(&sb, "\x1b[%dA", b.drawn)
	}
	for _, s := range b.images {
		sb.WriteString("\x1b[2K")
		sb.WriteString(s.barLine())
		sb.WriteByte('\n')
	}
	b.drawn = len(b.images)
	io.WriteString(b.out, sb.String())
}

// barLine renders one image; the board's lock is held.
func (s *imageState) barLine() string {
	filled := 0
	if s.total > 0 {
		filled = int(min(s.received, s.total) * barWidth / s.total)
	}
	if s.status == "done" {
		filled = barWidth
	}
	bar := strings.Repeat("=", filled) + strings.Repeat(" ", barWidth-filled)
	line := fmt.Sprintf("%-40s [%s] %d/%d blobs %s/%s", s.name, bar, s.blobsDone, s.blobs, bytesText(s.received), bytesText(s.total))
	if s.status != "" && s.status != "done" {
		line += "  " + s.status
	}
	return line
}

// printf writes a plain line, for output that is not a terminal.
func (b *progressBoard) printf(format string, args ...any) {
	if b.terminal {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	fmt.Fprintf(b.out, format+"\n", args...)
}

func (s *imageState) start(blobs int, bytes int64) {
	s.board.mu.Lock()
	s.blobs, s.total = blobs, bytes
	s.board.mu.Unlock()
	s.board.printf("%s: %s, %s", s.name, plural(blobs, "blob", "blobs"), bytesText(bytes))
}

func (s *imageState) addBytes(n int64) {
	s.board.mu.Lock()
	s.received += n
	s.board.mu.Unlock()
}

func (s *imageState) blobDone() {
	s.board.mu.Lock()
	s.blobsDone++
	s.board.mu.Unlock()
}

func (s *imageState) finish(res warmResult, err error) {
	s.board.mu.Lock()
	if err != nil {
		s.status = "FAILED"
	} else {
		s.status = "done"
	}
	s.board.mu.Unlock()

	if err != nil {
		s.board.printf("%s: failed: %v", s.name, err)
		return
	}
	s.board.printf("%s: done: %s, %s, %s, %s", s.name, plural(res.manifests, "manifest", "manifests"),
		plural(res.layers, "layer", "layers"), bytesText(res.bytes), plural(res.upstreamPulls, "upstream pull", "upstream pulls"))
}
