package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jetsync/jetsync/test/harness"
)

// Fault pacing.
const (
	faultGapMin  = time.Second // a fault starts 1-3 s after the previous one ended
	faultGapMax  = 3 * time.Second
	downMax      = 1500 * time.Millisecond // how long killed daemons stay down
	listenWithin = 30 * time.Second        // a restarted broker must accept connections by then
)

// journal is the timeline of a seed's operations and faults, kept for the
// report of a failed seed.
type journal struct {
	mu    sync.Mutex
	start time.Time
	lines []string
}

func newJournal() *journal { return &journal{start: time.Now()} }

func (j *journal) add(format string, args ...any) {
	line := fmt.Sprintf("%8.3fs ", time.Since(j.start).Seconds()) + fmt.Sprintf(format, args...)
	j.mu.Lock()
	j.lines = append(j.lines, line)
	j.mu.Unlock()
}

// grep returns the journal lines that contain any of subs.
func (j *journal) grep(subs ...string) []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []string
	for _, l := range j.lines {
		for _, s := range subs {
			if strings.Contains(l, s) {
				out = append(out, l)
				break
			}
		}
	}
	return out
}

func (j *journal) writeTo(path string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(strings.Join(j.lines, "\n")+"\n"), 0o644)
}

// daemon is one of the three processes the driver plays with.
type daemon struct {
	name   string
	p      *harness.Proc
	broker bool
}

// fault is one kind of chaos: kill -9 of some daemons, or a SIGTERM
// restart of one.
type fault struct {
	name   string
	weight int
	kill   []string // daemons to kill -9
	term   bool     // SIGTERM one random daemon instead
}

var faults = []fault{
	{name: "kill -9 source", weight: 4, kill: []string{"source"}},
	{name: "kill -9 replica", weight: 4, kill: []string{"replica"}},
	{name: "kill -9 broker", weight: 3, kill: []string{"broker"}},
	{name: "kill -9 broker+source", weight: 3, kill: []string{"broker", "source"}},
	{name: "kill -9 broker+replica", weight: 1, kill: []string{"broker", "replica"}},
	{name: "kill -9 source+replica", weight: 1, kill: []string{"source", "replica"}},
	{name: "kill -9 all", weight: 3, kill: []string{"broker", "source", "replica"}},
	{name: "SIGTERM restart", weight: 2, term: true},
}

// driver kills and restarts the daemons at random moments until its
// context ends. Its choices come from its own PCG stream, seeded with the
// seed.
type driver struct {
	t       testing.TB
	r       *rand.Rand
	j       *journal
	addr    string
	daemons []*daemon // broker, source, replica
	faults  int
	kills   map[string]int
	terms   int
}

func newDriver(t testing.TB, seed uint64, j *journal, addr string, broker, source, replica *harness.Proc) *driver {
	return &driver{t: t, r: rand.New(rand.NewPCG(seed, 0x63686173)), j: j, addr: addr,
		daemons: []*daemon{{"broker", broker, true}, {"source", source, false}, {"replica", replica, false}},
		kills:   map[string]int{}}
}

func (d *driver) totalKills() int { return d.kills["broker"] + d.kills["source"] + d.kills["replica"] }

func (d *driver) daemon(name string) *daemon {
	for _, dm := range d.daemons {
		if dm.name == name {
			return dm
		}
	}
	panic("no daemon " + name)
}

// run injects faults until ctx ends. A fault under way is completed, its
// daemons restarted, before run returns.
func (d *driver) run(ctx context.Context) {
	for {
		gap := faultGapMin + time.Duration(d.r.Int64N(int64(faultGapMax-faultGapMin)))
		select {
		case <-ctx.Done():
			return
		case <-time.After(gap):
		}
		d.checkDied()
		d.inject(d.choose())
	}
}

func (d *driver) choose() fault {
	total := 0
	for _, f := range faults {
		total += f.weight
	}
	n := d.r.IntN(total)
	for _, f := range faults {
		if n < f.weight {
			return f
		}
		n -= f.weight
	}
	panic("unreachable")
}

// inject applies f, keeps the daemons down for 0-1.5 s and starts them
// again in random order.
func (d *driver) inject(f fault) {
	d.faults++
	var down []*daemon
	if f.term {
		dm := d.daemons[d.r.IntN(len(d.daemons))]
		d.j.add("fault %d: SIGTERM %s", d.faults, dm.name)
		d.terms++
		if err := stop(dm.p); err != nil {
			d.t.Errorf("fault %d: %s did not stop cleanly on SIGTERM: %v", d.faults, dm.name, err)
		}
		down = append(down, dm)
	} else {
		names := append([]string(nil), f.kill...)
		d.r.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
		d.j.add("fault %d: %s (order %s)", d.faults, f.name, strings.Join(names, ","))
		for _, n := range names {
			dm := d.daemon(n)
			dm.p.Kill9()
			d.kills[n]++
			down = append(down, dm)
		}
	}
	time.Sleep(time.Duration(d.r.Int64N(int64(downMax))))
	d.r.Shuffle(len(down), func(i, j int) { down[i], down[j] = down[j], down[i] })
	for _, dm := range down {
		d.start(dm)
	}
}

// start runs dm again; a broker must accept connections on the same
// address before start returns.
func (d *driver) start(dm *daemon) {
	if dm.p.Running() {
		return
	}
	d.j.add("start %s", dm.name)
	if err := dm.p.Start(); err != nil {
		d.t.Errorf("restart %s: %v", dm.name, err)
		return
	}
	if !dm.broker {
		return
	}
	deadline := time.Now().Add(listenWithin)
	for {
		c, err := net.DialTimeout("tcp", d.addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			d.t.Errorf("restarted broker does not accept connections on %s after %s: %v", d.addr, listenWithin, err)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkDied reports every daemon that exited without being told to, and
// starts it again so that the run goes on.
func (d *driver) checkDied() {
	for _, dm := range d.daemons {
		if dead, err := dm.p.Died(); dead {
			msg := fmt.Sprintf("%s exited on its own (%v)", dm.name, err)
			d.j.add("%s", msg)
			d.t.Errorf("%s; log tail:\n%s", msg, dm.p.Tail(30))
			d.start(dm)
		}
	}
}

// ensureRunning starts whatever is not running (nothing should be: the
// driver restarts what it stops).
func (d *driver) ensureRunning() {
	d.checkDied()
	for _, dm := range d.daemons {
		d.start(dm)
	}
}

// stop stops p with SIGTERM like Proc.Stop, but a daemon still running
// after harness.StopTimeout first gets SIGQUIT, so that its log holds a
// goroutine dump of the hang; the error then quotes it.
func stop(p *harness.Proc) error {
	if !p.Running() {
		return nil
	}
	start := time.Now()
	if err := p.Signal(syscall.SIGTERM); err != nil {
		return nil // it exited meanwhile
	}
	for p.Running() && time.Since(start) < harness.StopTimeout {
		time.Sleep(20 * time.Millisecond)
	}
	if p.Running() {
		dumpGoroutines(p)
		return fmt.Errorf("stop %s: still running %s after SIGTERM; its goroutines:\n%s",
			p.Name(), harness.StopTimeout, p.Tail(200))
	}
	_, err := p.Died() // the exit status, before Kill9 marks the exit expected
	p.Kill9()
	if err != nil {
		return fmt.Errorf("stop %s: exited after SIGTERM (%s) with %v", p.Name(), time.Since(start).Round(time.Millisecond), err)
	}
	return nil
}

// dumpGoroutines makes a running daemon write its goroutines to its log
// (SIGQUIT) and kills what is left of it.
func dumpGoroutines(p *harness.Proc) {
	if p.Signal(syscall.SIGQUIT) == nil {
		for deadline := time.Now().Add(5 * time.Second); p.Running() && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
	}
	p.Kill9()
}
