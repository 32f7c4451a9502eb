package fsmeta

import (
	"os"

	"golang.org/x/sys/unix"
)

// punchHole deallocates r of f, keeping its size.
func punchHole(f *os.File, r Range) error {
	return unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, r.Off, r.Len)
}
