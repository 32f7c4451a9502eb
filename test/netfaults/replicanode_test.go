package netfaults

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jetsync/jetsync/test/harness"
	"github.com/jetsync/jetsync/test/treegen"
)

// TestReplicaNodeKilled: in an idle three-node cluster, the node the
// replica is connected to is killed (SIGKILL) and a change follows; the
// replica must converge within a minute. For about three seconds after a
// node dies the cluster may place a new consumer on the dead node, which
// never answers; the replica once waited there until the cluster declared
// the node gone (minutes, about one trial in six). It now starts a new
// session after a reconnect and after three failed consumer resets. The
// race is statistical, so this soak runs only when NETFAULTS_TRIALS is
// set, that many trials in parallel, e.g.
//
//	NETFAULTS_TRIALS=6 go test -run TestReplicaNodeKilled ./test/netfaults/
func TestReplicaNodeKilled(t *testing.T) {
	trials, _ := strconv.Atoi(os.Getenv("NETFAULTS_TRIALS"))
	if trials <= 0 {
		t.Skip("a statistical reproduction; set NETFAULTS_TRIALS=6 to run it")
	}
	for i := range trials {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			src, dst := filepath.Join(root, "src"), filepath.Join(root, "dst")
			const folder = "repnode"
			for i := range 20 {
				harness.WriteFile(t, filepath.Join(src, "docs", fmt.Sprintf("f%02d.txt", i)), fmt.Sprintf("file %d\n", i), 0o644)
			}
			harness.WriteFile(t, filepath.Join(src, treegen.ReadmeTxt), "readme\n", 0o644)
			cs := startClusterSync(t, root, folder, src, dst, false)
			cs.w.leader(90 * time.Second)
			harness.Converge(t, 2*time.Minute, cs.nodes[0].url(), folder, src, dst)
			time.Sleep(3 * time.Second) // idle
			victim := connectedNode(cs.replica, cs.nodes)
			victim.proc.Kill9()
			killed := time.Now()
			(&changer{t: t, src: src}).next()
			s := survivor(t, cs.nodes, victim)
			at := harness.Converge(t, time.Minute, s.url(), folder, src, dst)
			t.Logf("converged %.1fs after %s, the replica's node, was killed", at.Sub(killed).Seconds(), victim.name)
		})
	}
}

// connectedNode returns the node a daemon last reported connecting to.
func connectedNode(p *harness.Proc, nodes []*clusterNode) *clusterNode {
	log := p.LastRunLog()
	var best *clusterNode
	for _, n := range nodes {
		if i := strings.LastIndex(log, "url=nats://"+n.addr); i >= 0 && (best == nil || i > strings.LastIndex(log, "url=nats://"+best.addr)) {
			best = n
		}
	}
	if best == nil {
		return nodes[0]
	}
	return best
}
