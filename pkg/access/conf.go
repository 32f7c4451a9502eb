package access

import (
	"fmt"
	"strings"

	"github.com/nats-io/nats-server/v2/server"
)

// ConfigEntry is the entry of the NKey user pub with id's permissions for
// the users list of a NATS server configuration file (authorization {
// users: [...] }), as in deploy/nats/jetsync.conf.
func ConfigEntry(id Identity, pub string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n{\n  nkey: %s\n", describe(id), pub)
	if p := Permissions(id); p != nil {
		b.WriteString("  permissions: {\n")
		writeSubjects(&b, "publish", p.Publish)
		writeSubjects(&b, "subscribe", p.Subscribe)
		if p.Response != nil {
			fmt.Fprintf(&b, "    allow_responses: { max: %d }\n", p.Response.MaxMsgs)
		}
		b.WriteString("  }\n")
	}
	b.WriteString("}\n")
	return b.String()
}

func writeSubjects(b *strings.Builder, name string, sp *server.SubjectPermission) {
	if sp == nil {
		return
	}
	fmt.Fprintf(b, "    %s: {\n      allow: [\n", name)
	for _, s := range sp.Allow {
		fmt.Fprintf(b, "        %q\n", s)
	}
	b.WriteString("      ]\n    }\n")
}
