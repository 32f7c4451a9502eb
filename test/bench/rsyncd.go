package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// rsyncDaemon is `rsync --daemon` on a fresh loopback port serving one
// writable module, "dst".
type rsyncDaemon struct {
	c   *child
	url string // rsync://127.0.0.1:PORT/dst/
}

// startRsyncDaemon writes dir/rsyncd.conf for module path and starts the
// daemon in the foreground, as our child.
func (b *bench) startRsyncDaemon(dir, path string) (*rsyncDaemon, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "rsyncd.conf")
	text := fmt.Sprintf("use chroot = no\nmunge symlinks = no\nmax connections = 4\n[dst]\n    path = %s\n    read only = no\n", path)
	if os.Geteuid() == 0 { // keep ownership as is; rsyncd would drop to nobody
		text += "    uid = root\n    gid = root\n"
	}
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		return nil, fmt.Errorf("write rsyncd.conf: %w", err)
	}
	host, port, _ := strings.Cut(addr, ":")
	c, err := b.procs.start("rsync daemon", filepath.Join(dir, "rsyncd.out"), "", b.rsync, "--daemon", "--no-detach",
		"--address="+host, "--port="+port, "--config="+conf, "--log-file="+filepath.Join(dir, "rsyncd.log"))
	if err != nil {
		return nil, err
	}
	if err := waitPort(b.ctx, addr, 20*time.Second); err != nil {
		c.stop(5 * time.Second)
		return nil, fmt.Errorf("rsync daemon: %w", err)
	}
	return &rsyncDaemon{c: c, url: "rsync://" + addr + "/dst/"}, nil
}

func (d *rsyncDaemon) stop() { d.c.stop(10 * time.Second) }

var sentRE = regexp.MustCompile(`Total bytes sent: ([0-9,.]+)`)

// rsyncSent reads "Total bytes sent" from the --stats output in a log;
// the last occurrence wins, since logs are appended to.
func rsyncSent(logPath string) (int64, error) {
	b, err := os.ReadFile(logPath)
	if err != nil {
		return 0, err
	}
	m := sentRE.FindAllSubmatch(b, -1)
	if len(m) == 0 {
		return 0, fmt.Errorf("no \"Total bytes sent\" in %s", logPath)
	}
	digits := strings.NewReplacer(",", "", ".", "").Replace(string(m[len(m)-1][1]))
	return strconv.ParseInt(digits, 10, 64)
}
