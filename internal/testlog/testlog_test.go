package testlog

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

func TestBufferConcurrentWrites(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fmt.Fprintf(&b, "line %d\n", i)
			_ = b.String()
		}()
	}
	wg.Wait()

	if got := strings.Count(b.String(), "\n"); got != 8 {
		t.Errorf("buffer has %d lines, want 8", got)
	}
	copied := b.Bytes()
	copied[0] = 'X'
	if strings.HasPrefix(b.String(), "X") {
		t.Error("Bytes returned the buffer itself, want a copy")
	}
}
