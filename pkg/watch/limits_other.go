//go:build !linux && !freebsd && !openbsd && !netbsd && !dragonfly && !darwin

package watch

const (
	defaultMaxWatches = 100000
	fdPerEntry        = false

	limitHint    = "raise the operating system's limit on file watches or open files"
	overflowHint = "raise the operating system's notification buffer"
)
