package replica

import (
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	// No source serves content in most of these tests: a chunk missing
	// from the cache is asked of it once, not five times with backoff.
	sourceAttempts = 1
	os.Exit(m.Run())
}
