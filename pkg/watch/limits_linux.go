//go:build linux

package watch

const (
	// defaultMaxWatches stays well below common max_user_watches settings
	// so that other inotify users on the host keep working.
	defaultMaxWatches = 100000

	// fdPerEntry is false because inotify needs one watch per directory and
	// nothing for the files in it.
	fdPerEntry = false

	limitHint    = "raise fs.inotify.max_user_watches (sysctl fs.inotify.max_user_watches=N), or fs.inotify.max_user_instances on EMFILE"
	overflowHint = "raise fs.inotify.max_queued_events (sysctl fs.inotify.max_queued_events=N)"
)
