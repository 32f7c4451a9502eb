// Package exclude decides which paths of a folder a source leaves out:
// gitignore-like patterns given with --exclude and --exclude-from, and the
// paths jetsync never replicates whatever the patterns say (Builtin).
//
// Paths are the relative slash paths of package wire ("a/b/c.txt"); the
// folder root itself is never matched. Patterns are checked in order and
// the last one that matches a path decides: a plain pattern excludes it,
// a pattern starting with "!" includes it again.
//
// Syntax:
//
//   - "*" matches any run of characters but "/", "?" one character but
//     "/", "[abc]", "[a-z]", "[!a-z]" and "[^a-z]" one character of (or not
//     of) the set. Wildcards match a leading dot too: "*" matches ".cache".
//   - "**" as a whole component matches any number of components: "**/x"
//     is x at any depth, "a/**/x" is x anywhere below a (a/x included),
//     "a/**" is everything below a (not a itself). Elsewhere "**" is "*".
//   - A pattern with a "/" at its start or in its middle is anchored: it
//     is matched against the whole path from the folder root ("/build",
//     "doc/*.html"). One without is matched against the last name of
//     every path, at any depth ("*.tmp", "node_modules").
//   - A trailing "/" matches directories only ("cache/").
//   - "!" at the start includes again what an earlier pattern excluded.
//   - "\" takes the next character literally ("\!keep", "\#x", "\*").
//
// What differs from gitignore:
//
//   - Exclusion is per directory level, as the source walks the tree: an
//     excluded directory is not read at all, so nothing below it can be
//     included again ("cache/" then "!cache/keep" keeps nothing). Use
//     "cache/*" and "!cache/keep" to keep one entry of a directory.
//   - There is one pattern list for the whole folder, given on the
//     command line; .gitignore files in the tree are not read.
//   - Patterns must be valid UTF-8; "?" and sets match one UTF-8
//     character of a name (one byte where the name is not valid UTF-8).
//   - Bad patterns are errors, not silently ignored: an unterminated "[",
//     a trailing lone "\", an empty component ("a//b"), "." or "..", an
//     empty pattern.
//   - Matching is case-sensitive, whatever the file system.
//
// In a pattern file (ParseFile) blank lines and lines starting with "#"
// are skipped, a trailing "\r" is dropped, and trailing spaces are
// removed unless the last one is escaped with "\". Patterns given on the
// command line are taken as they are.
package exclude
