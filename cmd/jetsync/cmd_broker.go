package main

import (
	"context"
	"flag"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jetsync/jetsync/pkg/access"
	"github.com/jetsync/jetsync/pkg/bus"
)

func cmdBroker(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("broker", flag.ContinueOnError)
	var lf logFlags
	var bf brokerFlags
	var mf memoryFlags
	data := fs.String("data", "", "state directory: the JetStream store in DATA/broker, the credentials the broker admits in DATA/auth")
	lf.register(fs)
	bf.register(fs, "127.0.0.1:4222", nil)
	bf.registerHTTP(fs)
	mf.register(fs)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if err := required("data", *data); err != nil {
		return err
	}
	log, err := lf.logger()
	if err != nil {
		return err
	}
	gov, err := mf.governor(log)
	if err != nil {
		return err
	}
	// --http is served below, with the status page, rather than by the
	// broker's own monitoring listener.
	httpAddr := bf.http
	bf.http = ""
	b, err := bf.start(*data, log)
	if err != nil {
		return err
	}
	defer b.Shutdown()
	log.Info("broker ready", "url", b.ClientURL())
	wait := func(ctx context.Context) error {
		<-ctx.Done()
		log.Info("shutting down")
		return nil
	}
	if httpAddr == "" {
		return runServing(ctx, serving{reg: prometheus.NewRegistry(), log: log}, gov.run, wait)
	}
	// The status page reads what `jetsync status` does, in process, with
	// the monitoring role's rights.
	opts, err := b.ConnectAs(access.MonitorID())
	if err != nil {
		return err
	}
	nc, js, err := bus.Connect(bus.ConnectOptions{Name: "jetsync broker status page", Extra: opts, Logger: log})
	if err != nil {
		return err
	}
	defer nc.Close()
	sv := serving{httpFlags: httpFlags{http: httpAddr, nats: b.Server()}, reg: prometheus.NewRegistry(), log: log, js: js}
	return runServing(ctx, sv, gov.run, wait)
}
