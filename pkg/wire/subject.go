package wire

import (
	"encoding/base64"
	"fmt"
	"regexp"

	"github.com/zeebo/blake3"
)

// Subjects, for folder F:
//
//	jetsync.F.s.<pathkey>  latest state of one path (state stream)
//	jetsync.F.m            folder meta: the source's epoch (state stream)
//	jetsync.F.c.<hash>     one content chunk, by hash (cache stream)
//	jetsync-content.F      content requests, answered by the source
//
// pathkey is base64url(BLAKE3(path))[:22] (128 bits), so subjects have a
// fixed length whatever the path, and any byte may appear in a path.
const subjectRoot = "jetsync"

var folderRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ValidFolder checks a folder name; it becomes part of subjects and the
// stream name, so it is restricted to [A-Za-z0-9_-]{1,64}.
func ValidFolder(f string) error {
	if !folderRE.MatchString(f) {
		return fmt.Errorf("invalid folder name %q: use 1-64 of A-Z a-z 0-9 _ -", f)
	}
	return nil
}

// StreamName is the JetStream stream holding everything of a folder.
func StreamName(folder string) string { return "JETSYNC_" + folder }

// CacheStreamName is the JetStream stream of a folder's content cache.
// No state stream name ("JETSYNC_" + folder) can take this form.
func CacheStreamName(folder string) string { return "JETSYNC-CACHE_" + folder }

// LegacyFolderSubjects is the subject filter of a folder's stream as
// releases before the content service created it: state records and every
// chunk in one stream.
func LegacyFolderSubjects(folder string) string { return subjectRoot + "." + folder + ".>" }

// StateSubjects are the subjects of a folder's state stream.
func StateSubjects(folder string) []string { return []string{StateFilter(folder), MetaSubject(folder)} }

// CacheFilter matches every chunk subject of a folder's content cache.
func CacheFilter(folder string) string { return subjectRoot + "." + folder + ".c.>" }

// ContentSubject is where replicas ask the folder's source for content.
// It lies outside every stream's subjects, so no stream stores requests.
func ContentSubject(folder string) string { return subjectRoot + "-content." + folder }

// StateFilter matches every state subject of a folder.
func StateFilter(folder string) string { return subjectRoot + "." + folder + ".s.>" }

// MetaSubject is the folder meta subject.
func MetaSubject(folder string) string { return subjectRoot + "." + folder + ".m" }

// StateSubject is the subject holding the latest state of path.
func StateSubject(folder, path string) string { return StatePrefix(folder) + PathKey(path) }

// StatePrefix is what every state subject of a folder starts with, before
// the path's key.
func StatePrefix(folder string) string { return subjectRoot + "." + folder + ".s." }

// ChunkSubject is the subject holding the chunk with hash h.
func ChunkSubject(folder string, h Hash) string {
	return subjectRoot + "." + folder + ".c." + h.String()
}

// PathKey is the subject token of a path.
func PathKey(path string) string {
	sum := blake3.Sum256([]byte(path))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}
