package bus

import (
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/jetsync/jetsync/pkg/seal"
)

// Redacted stands, in the status of an encrypted folder, for a text that
// may name paths: the text itself is sealed in the entry, for `jetsync
// status` given the folder's key to show.
const Redacted = "(encrypted)"

// sourceSecrets are the fields of a source's status that may name paths.
type sourceSecrets struct {
	LastError string `json:"last_error,omitempty"`
}

// replicaSecrets are the fields of a replica's status that may name
// paths: the stuck paths' names and reasons are in the order of Stuck.
type replicaSecrets struct {
	LastError   string   `json:"last_error,omitempty"`
	WaitingFor  string   `json:"waiting_for,omitempty"`
	Note        string   `json:"note,omitempty"`
	StuckPaths  []string `json:"stuck_paths,omitempty"`
	StuckWhy    []string `json:"stuck_why,omitempty"`
	VerifyFirst string   `json:"verify_first,omitempty"`
	VerifyError string   `json:"verify_error,omitempty"`
}

// SealSource moves what st's text fields say into st.Sealed, sealed with
// keys for its status key, leaving Redacted in their place. Without keys
// it does nothing.
func SealSource(keys *seal.FolderKeys, key string, st *SourceStatus) {
	if keys == nil {
		return
	}
	sec := sourceSecrets{LastError: st.LastError}
	redact(&st.LastError)
	st.Sealed = sealJSON(keys, key, sec)
}

// OpenSource puts back what SealSource moved.
func OpenSource(keys *seal.FolderKeys, key string, st *SourceStatus) error {
	if st.Sealed == "" {
		return nil
	}
	var sec sourceSecrets
	if err := openJSON(keys, key, st.Sealed, &sec); err != nil {
		return err
	}
	st.LastError, st.Sealed = sec.LastError, ""
	return nil
}

// SealReplica is SealSource for a replica's status.
func SealReplica(keys *seal.FolderKeys, key string, st *ReplicaStatus) {
	if keys == nil {
		return
	}
	sec := replicaSecrets{LastError: st.LastError, WaitingFor: st.WaitingFor, Note: st.Note}
	redact(&st.LastError)
	redact(&st.WaitingFor)
	redact(&st.Note)
	for i := range st.Stuck {
		sec.StuckPaths = append(sec.StuckPaths, st.Stuck[i].Path)
		sec.StuckWhy = append(sec.StuckWhy, st.Stuck[i].Reason)
		redact(&st.Stuck[i].Path)
		redact(&st.Stuck[i].Reason)
	}
	if v := st.LastVerify; v != nil {
		sec.VerifyFirst, sec.VerifyError = v.First, v.Error
		redact(&v.First)
		redact(&v.Error)
	}
	st.Sealed = sealJSON(keys, key, sec)
}

// OpenReplica puts back what SealReplica moved.
func OpenReplica(keys *seal.FolderKeys, key string, st *ReplicaStatus) error {
	if st.Sealed == "" {
		return nil
	}
	var sec replicaSecrets
	if err := openJSON(keys, key, st.Sealed, &sec); err != nil {
		return err
	}
	if len(sec.StuckPaths) != len(st.Stuck) || len(sec.StuckWhy) != len(st.Stuck) {
		return fmt.Errorf("open status %s: %d stuck paths sealed, %d shown", key, len(sec.StuckPaths), len(st.Stuck))
	}
	st.LastError, st.WaitingFor, st.Note = sec.LastError, sec.WaitingFor, sec.Note
	for i := range st.Stuck {
		st.Stuck[i].Path, st.Stuck[i].Reason = sec.StuckPaths[i], sec.StuckWhy[i]
	}
	if v := st.LastVerify; v != nil {
		v.First, v.Error = sec.VerifyFirst, sec.VerifyError
	}
	st.Sealed = ""
	return nil
}

func redact(s *string) {
	if *s != "" {
		*s = Redacted
	}
}

func sealJSON(keys *seal.FolderKeys, key string, v any) string {
	b, _ := json.Marshal(v) // strings only: cannot fail
	return base64.StdEncoding.EncodeToString(keys.Seal(seal.KindStatus, key, b))
}

func openJSON(keys *seal.FolderKeys, key string, sealed string, v any) error {
	if keys == nil {
		return fmt.Errorf("open status %s: %w", key, seal.ErrNotPlain)
	}
	raw, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil {
		return fmt.Errorf("open status %s: %w", key, err)
	}
	b, err := keys.Open(seal.KindStatus, key, raw)
	if err != nil {
		return fmt.Errorf("open status %s: %w", key, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("open status %s: %w", key, err)
	}
	return nil
}
