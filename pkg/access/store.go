package access

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
)

// Ext ends the name of every credentials file.
const Ext = ".nk"

// Store is a directory of credentials files, one per identity
// (<identity name>.nk, mode 0600, in a directory of mode 0700). A
// credentials file is an NKey user seed, as nats.go's NkeyOptionFromSeed
// and the nats CLI's --nkey read it, after comment lines naming its
// identity. The embedded broker admits exactly the identities of its
// store, with their permissions; deleting a file revokes it.
type Store struct{ Dir string }

// Path is where the credentials of id are kept.
func (s Store) Path(id Identity) string { return filepath.Join(s.Dir, id.Name()+Ext) }

// Ensure returns the path of id's credentials file, generating a new key
// for it first if it has none. created reports whether it did.
func (s Store) Ensure(id Identity) (path string, created bool, err error) {
	if err := id.Validate(); err != nil {
		return "", false, err
	}
	path = s.Path(id)
	if _, err := os.Stat(path); err == nil {
		return path, false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", false, err
	}
	kp, err := nkeys.CreateUser()
	if err != nil {
		return "", false, fmt.Errorf("generate key for %s: %w", id, err)
	}
	defer kp.Wipe()
	seed, err := kp.Seed()
	if err != nil {
		return "", false, err
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return "", false, fmt.Errorf("create credentials directory: %w", err)
	}
	if err := writeFileAtomic(path, credentialsText(id, seed)); err != nil {
		return "", false, fmt.Errorf("write credentials of %s: %w", id, err)
	}
	return path, true, nil
}

// credentialsText is a credentials file: the identity in comments, then
// the seed.
func credentialsText(id Identity, seed []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# jetsync credentials of %s\n", describe(id))
	fmt.Fprintf(&b, "# role: %s\n", id.Role)
	if id.Folder != "" {
		fmt.Fprintf(&b, "# folder: %s\n", id.Folder)
	}
	if id.ID != "" {
		fmt.Fprintf(&b, "# id: %s\n", id.ID)
	}
	b.WriteString("# Whoever holds this file is that to the broker: keep it secret (mode 0600).\n")
	b.Write(seed)
	b.WriteByte('\n')
	return b.Bytes()
}

func describe(id Identity) string {
	switch id.Role {
	case Source:
		return fmt.Sprintf("the source of folder %q", id.Folder)
	case Replica:
		return fmt.Sprintf("replica %q of folder %q", id.ID, id.Folder)
	case Monitor:
		return "monitoring (read-only)"
	}
	return "the broker's administrator"
}

// Credentials is what a credentials file holds.
type Credentials struct {
	Identity Identity // zero when the file does not name one (a plain seed file)
	Public   string   // the NKey user's public key
}

// ReadCredentials reads a credentials file (or any NKey user seed file).
func ReadCredentials(path string) (Credentials, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Credentials{}, fmt.Errorf("read credentials: %w", err)
	}
	defer wipe(data)
	kp, err := nkeys.ParseDecoratedUserNKey(data)
	if err != nil {
		return Credentials{}, fmt.Errorf("read credentials %s: %w", path, err)
	}
	defer kp.Wipe()
	pub, err := kp.PublicKey()
	if err != nil {
		return Credentials{}, fmt.Errorf("read credentials %s: %w", path, err)
	}
	c := Credentials{Identity: parseIdentity(data), Public: pub}
	if c.Identity.Role != "" {
		if err := c.Identity.Validate(); err != nil {
			return Credentials{}, fmt.Errorf("read credentials %s: %w", path, err)
		}
	}
	return c, nil
}

// parseIdentity reads the "# role:", "# folder:" and "# id:" comments.
func parseIdentity(data []byte) Identity {
	var id Identity
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "#")
		if !ok {
			continue
		}
		key, val, _ := strings.Cut(line, ":")
		val = strings.TrimSpace(val)
		switch strings.TrimSpace(key) {
		case "role":
			id.Role = Role(val)
		case "folder":
			id.Folder = val
		case "id":
			id.ID = val
		}
	}
	return id
}

// List reads every credentials file of the store. A file that names no
// valid identity is an error: the broker must not start with credentials
// it cannot place.
func (s Store) List() ([]Credentials, error) {
	names, err := s.files()
	if err != nil {
		return nil, err
	}
	var out []Credentials
	for _, name := range names {
		c, err := ReadCredentials(filepath.Join(s.Dir, name))
		if err != nil {
			return nil, err
		}
		if c.Identity.Role == "" {
			return nil, fmt.Errorf("credentials %s name no jetsync identity", filepath.Join(s.Dir, name))
		}
		out = append(out, c)
	}
	return out, nil
}

// Users returns a NATS user for every credentials file of the store, with
// its identity's permissions.
func (s Store) Users() ([]*server.NkeyUser, error) {
	creds, err := s.List()
	if err != nil {
		return nil, err
	}
	users := make([]*server.NkeyUser, 0, len(creds))
	for _, c := range creds {
		users = append(users, &server.NkeyUser{Nkey: c.Public, Permissions: Permissions(c.Identity)})
	}
	return users, nil
}

// files lists the credentials files, sorted.
func (s Store) files() ([]string, error) {
	entries, err := os.ReadDir(s.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read credentials directory: %w", err)
	}
	var names []string
	for _, e := range entries {
		if n := e.Name(); e.Type().IsRegular() && strings.HasSuffix(n, Ext) && !strings.HasPrefix(n, ".") {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names, nil
}

// Version changes whenever a credentials file is added, removed or
// replaced, so that a broker can notice and reload its users.
func (s Store) Version() (string, error) {
	names, err := s.files()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, n := range names {
		fi, err := os.Stat(filepath.Join(s.Dir, n))
		if err != nil {
			continue // removed meanwhile: the next look sees it gone
		}
		fmt.Fprintf(&b, "%s %d %d\n", n, fi.Size(), fi.ModTime().UnixNano())
	}
	return b.String(), nil
}

func wipe(b []byte) {
	for i := range b {
		b[i] = 'x'
	}
}
