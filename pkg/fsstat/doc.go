// Package fsstat reads the parts of a file's status that package os does
// not name: the inode number and the change time (ctime). The source uses
// them to notice a file replaced or changed behind a kept mtime, the
// replica to notice that a file it wrote was touched since.
package fsstat
