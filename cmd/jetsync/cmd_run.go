package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jetsync/jetsync/pkg/broker"
	"github.com/jetsync/jetsync/pkg/bus"
	"github.com/jetsync/jetsync/pkg/replica"
	"github.com/jetsync/jetsync/pkg/source"
	"github.com/jetsync/jetsync/pkg/wire"
)

// errOnceDone ends `run --once` successfully.
var errOnceDone = errors.New("in sync")

func cmdRun(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var lf logFlags
	var mf memoryFlags
	data := fs.String("data", "", "state directory (default: one per SRC/DST pair under the user's state directory)")
	once := fs.Bool("once", false, "exit 0 as soon as DST equals SRC")
	folder := fs.String("folder", "default", "folder name")
	var hf httpFlags
	hf.register(fs, "127.0.0.1:9464")
	scan := fs.Duration("scan-interval", 10*time.Minute, "periodic full stat-scan (0 disables)")
	syncAlways := fs.Bool("sync-always", false, "fsync every broker write")
	listen := fs.String("listen", "", "also serve the broker on ADDR (a port alone: 127.0.0.1:PORT), for status, verify and other replicas; it admits only the credentials in DATA/auth")
	var ef excludeFlags
	ef.register(fs)
	maxRate := fs.String("max-rate", "0", "bytes per second the replica pulls content from the source at (nothing is compressed: as many as are read) (e.g. 10MiB; 0: no limit)")
	var enc encryptionFlag
	enc.register(fs, "encrypt what goes through the broker, as a source and its replicas would")
	allowEmpty := fs.Bool("allow-empty-root", false, "publish deletes when SRC is found empty (by default taken for an unmounted volume and refused)")
	lf.register(fs)
	mf.register(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("want SRC and DST, got %d arguments", len(pos))
	}
	src, dst, err := checkRunDirs(pos[0], pos[1])
	if err != nil {
		return err
	}
	rate, err := parseByteSize(*maxRate)
	if err != nil {
		return usagef("--max-rate: %v", err)
	}
	if *data == "" {
		*data = defaultRunData(src, dst)
	}
	log, err := lf.logger()
	if err != nil {
		return err
	}
	blog, err := lf.quietLogger()
	if err != nil {
		return err
	}
	gov, err := mf.governor(log)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	b, err := startRunBroker(*data, *listen, *folder, dst, *syncAlways, blog)
	if err != nil {
		return err
	}
	defer b.Shutdown()
	sc := source.Config{Folder: *folder, Root: src, DataDir: *data, ScanInterval: orNever(*scan), Logger: log, Registry: reg,
		AllowEmptyRoot: *allowEmpty, Exclude: ef.patterns, Compression: wire.NoCompression, // nothing crosses a network
		ContentCache: -1} // the replica is in this process: it never finds the source unreachable
	rc := replica.Config{Folder: *folder, Root: dst, DataDir: *data, ID: "local", Logger: log, Registry: reg, MaxRate: rate}
	if sc.Encryption, err = enc.key(); err != nil {
		return err
	}
	rc.Encryption = sc.Encryption
	// The replica trusts the key of the source beside it.
	if rc.SourceKey, err = trustLocalSource(*data); err != nil {
		return err
	}
	return runPair(ctx, b, sc, rc, *once, hf, reg, gov)
}

// startRunBroker starts the run's broker: in-process only, or also
// listening (with credentials, as every listening broker) when asked.
func startRunBroker(data, listen, folder, dst string, syncAlways bool, log *slog.Logger) (*broker.Broker, error) {
	if listen == "" {
		return broker.Start(broker.Config{DataDir: filepath.Join(data, "broker"), SyncAlways: syncAlways,
			Logger: log.With("component", "broker")})
	}
	bf := brokerFlags{listen: loopbackByDefault(listen), syncAlways: syncAlways, tls: &tlsFlags{}, folder: folder}
	b, err := bf.start(data, log)
	if err != nil {
		return nil, err
	}
	url, auth := b.ClientURL(), authDir(data)
	fmt.Fprintf(os.Stderr, "jetsync: broker on %s; watch it with:\n", url)
	fmt.Fprintf(os.Stderr, "  jetsync status --nats %s --nkey %s\n", url, filepath.Join(auth, "monitor.nk"))
	fmt.Fprintf(os.Stderr, "  jetsync verify --nats %s --nkey %s --folder %s --path %s\n", url, filepath.Join(auth, "admin.nk"), folder, dst)
	return b, nil
}

// loopbackByDefault completes a listen address without a host ("4222",
// ":4222") to loopback: the demo's broker is for this machine unless a
// host is named.
func loopbackByDefault(addr string) string {
	if !strings.Contains(addr, ":") {
		return "127.0.0.1:" + addr
	}
	if strings.HasPrefix(addr, ":") {
		return "127.0.0.1" + addr
	}
	return addr
}

// checkRunDirs resolves SRC and DST and refuses layouts that would feed
// the replica's writes back into the source.
func checkRunDirs(srcArg, dstArg string) (string, string, error) {
	src, err := filepath.Abs(srcArg)
	if err != nil {
		return "", "", err
	}
	dst, err := filepath.Abs(dstArg)
	if err != nil {
		return "", "", err
	}
	if fi, err := os.Stat(src); err != nil || !fi.IsDir() {
		return "", "", usagef("SRC %s is not a directory", src)
	}
	if wire.IsUnder(dst, src) || wire.IsUnder(src, dst) {
		return "", "", usagef("SRC and DST must not contain each other (%s, %s)", src, dst)
	}
	return src, dst, nil
}

func defaultRunData(src, dst string) string {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	sum := sha256.Sum256([]byte(src + "\x00" + dst))
	return filepath.Join(base, "jetsync", "run-"+hex.EncodeToString(sum[:8]))
}

func runPair(ctx context.Context, b *broker.Broker, sc source.Config, rc replica.Config, once bool, hf httpFlags,
	reg *prometheus.Registry, gov *memoryGovernor) error {
	snc, sjs, err := bus.Connect(bus.ConnectOptions{Name: "jetsync source", Extra: b.ConnectOptions(), Logger: sc.Logger})
	if err != nil {
		return err
	}
	defer snc.Close()
	rnc, rjs, err := bus.Connect(bus.ConnectOptions{Name: "jetsync replica", Extra: b.ConnectOptions(), Logger: rc.Logger})
	if err != nil {
		return err
	}
	defer rnc.Close()
	src, err := source.New(sc, snc, sjs)
	if err != nil {
		return err
	}
	rep, err := replica.New(rc, rjs)
	if err != nil {
		return err
	}
	p := &pairProgress{src: src, rep: rep, js: rjs, folder: sc.Folder, once: once, log: sc.Logger}
	sv := serving{httpFlags: hf, reg: reg, log: sc.Logger, js: rjs, folder: sc.Folder}
	err = runServing(ctx, sv, gov.run, src.Run, rep.Run, p.run)
	if errors.Is(err, errOnceDone) {
		return nil
	}
	return err
}
