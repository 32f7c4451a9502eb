package broker

import (
	"strings"
	"testing"
	"time"
)

func TestServerOptionsDefaults(t *testing.T) {
	cfg, err := Config{DataDir: "/data"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	opts, err := serverOptions(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !opts.JetStream || opts.StoreDir != "/data" || !opts.DontListen || !opts.NoSigs || opts.NoLog {
		t.Errorf("unexpected base options: %+v", opts)
	}
	if opts.MaxPayload != DefaultMaxPayload || opts.ServerName != DefaultServerName {
		t.Errorf("MaxPayload %d ServerName %q", opts.MaxPayload, opts.ServerName)
	}
	if opts.HTTPPort != 0 || opts.Cluster.Port != 0 || opts.Authorization != "" || opts.Nkeys != nil || opts.TLS {
		t.Errorf("optional listeners or auth enabled: %+v", opts)
	}
	if cfg.StartTimeout != DefaultStartTimeout {
		t.Errorf("StartTimeout %s", cfg.StartTimeout)
	}
}

func TestServerOptionsMapping(t *testing.T) {
	cfg, err := Config{
		DataDir:      "/data",
		Listen:       "0.0.0.0:4222",
		HTTP:         "127.0.0.1:0",
		Insecure:     true,
		SyncInterval: 5 * time.Second,
		MaxPayload:   128 << 20,
		ServerName:   "n1",
		Cluster: &ClusterConfig{
			Name:   "c",
			Listen: "10.0.0.1:6222",
			Routes: []string{"nats-route://10.0.0.1:6222", "nats-route://10.0.0.2:6222"},
		},
	}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	opts, err := serverOptions(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if opts.DontListen || opts.Host != "0.0.0.0" || opts.Port != 4222 {
		t.Errorf("client listen %q:%d dont=%v", opts.Host, opts.Port, opts.DontListen)
	}
	if opts.HTTPHost != "127.0.0.1" || opts.HTTPPort != randomPort {
		t.Errorf("http listen %q:%d", opts.HTTPHost, opts.HTTPPort)
	}
	if opts.SyncAlways || opts.SyncInterval != 5*time.Second {
		t.Errorf("sync %v/%s", opts.SyncAlways, opts.SyncInterval)
	}
	if opts.MaxPending < int64(opts.MaxPayload) {
		t.Errorf("MaxPending %d below MaxPayload %d", opts.MaxPending, opts.MaxPayload)
	}
	if opts.Cluster.Name != "c" || opts.Cluster.Port != 6222 || len(opts.Routes) != 2 || opts.Routes[1].Host != "10.0.0.2:6222" {
		t.Errorf("cluster %+v routes %v", opts.Cluster, opts.Routes)
	}
}

func TestServerOptionsSyncAlwaysIgnoresInterval(t *testing.T) {
	opts, err := serverOptions(Config{DataDir: "/d", SyncAlways: true, SyncInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if !opts.SyncAlways || opts.SyncInterval != 0 {
		t.Errorf("SyncAlways %v SyncInterval %s", opts.SyncAlways, opts.SyncInterval)
	}
}

func TestConfigValidation(t *testing.T) {
	tests := map[string]Config{
		"data dir":       {},
		"server name":    {DataDir: "/d", Cluster: &ClusterConfig{Name: "c", Listen: ":6222"}},
		"cluster name":   {DataDir: "/d", ServerName: "n", Cluster: &ClusterConfig{Listen: ":6222"}},
		"max payload":    {DataDir: "/d", MaxPayload: -1},
		"listen":         {DataDir: "/d", Listen: "4222", Insecure: true},
		"http":           {DataDir: "/d", HTTP: "localhost"},
		"route":          {DataDir: "/d", ServerName: "n", Insecure: true, Cluster: &ClusterConfig{Name: "c", Listen: ":6222", Routes: []string{"::"}}},
		"cluster listen": {DataDir: "/d", ServerName: "n", Insecure: true, Cluster: &ClusterConfig{Name: "c", Listen: "6222"}},
		"no auth":        {DataDir: "/d", Listen: "127.0.0.1:4222"},
		"cluster auth":   {DataDir: "/d", ServerName: "n", Cluster: &ClusterConfig{Name: "c", Listen: ":6222"}},
		"tls verify":     {DataDir: "/d", TLS: &TLS{Cert: "c", Key: "k", Verify: true}},
		"tls key":        {DataDir: "/d", TLS: &TLS{Cert: "c"}},
	}
	for name, cfg := range tests {
		cfg, err := cfg.withDefaults()
		if err == nil {
			_, err = serverOptions(cfg)
		}
		if err == nil {
			t.Errorf("%s: invalid config accepted", name)
		} else if strings.ToLower(err.Error()[:1]) != err.Error()[:1] {
			t.Errorf("%s: error not lowercase: %v", name, err)
		}
	}
}
