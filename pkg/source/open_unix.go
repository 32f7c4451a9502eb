//go:build unix

package source

import "syscall"

// openFlags make opening a file that was just swapped for a symlink fail
// instead of following it, and opening a fifo not block; the fstat check
// after the open then notices the swap.
const openFlags = syscall.O_NOFOLLOW | syscall.O_NONBLOCK
