package access

import (
	"fmt"
	"os"
	"path/filepath"
)

// writeFileAtomic replaces path with data, durably: after it returns, a
// crash leaves either nothing or the complete file, and the broker never
// reads a half-written one.
func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	// CreateTemp uses mode 0600, so the secret is never readable by
	// others, not even briefly; the leading dot hides it from Store.
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	if err = f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	if err := d.Sync(); err != nil {
		_ = d.Close()
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return d.Close()
}
