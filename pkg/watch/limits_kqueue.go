//go:build freebsd || openbsd || netbsd || dragonfly || darwin

package watch

const (
	// defaultMaxWatches is lower than on Linux because every unit is an
	// open file descriptor, shared with the rest of the process.
	defaultMaxWatches = 20000

	// fdPerEntry is true because fsnotify's kqueue backend opens every
	// entry of a watched directory, files included.
	fdPerEntry = true

	limitHint    = "raise kern.maxfiles and kern.maxfilesperproc (sysctl) and the process open-file limit"
	overflowHint = "raise kern.maxfiles and kern.maxfilesperproc (sysctl)"
)
