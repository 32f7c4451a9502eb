//go:build linux

package hostile

import (
	"os"
	"testing"

	"github.com/jetsync/jetsync/test/harness"
)

func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }
