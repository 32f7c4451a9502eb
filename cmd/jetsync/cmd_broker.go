package main

import (
	"context"
	"flag"
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
	b, err := bf.start(*data, log)
	if err != nil {
		return err
	}
	defer b.Shutdown()
	log.Info("broker ready", "url", b.ClientURL(), "monitoring", b.MonitorURL())
	if err := gov.run(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	log.Info("shutting down")
	return nil
}
