package source

// linkGroups remembers the names of files that have several (hard links),
// by group (see linkID), as visits find them. A write through one name
// produces a watcher event for that name only; the control loop then
// visits the group's other names too, so each gets its new state at once
// rather than at the next full scan. Only the control loop uses it.
//
// A name that stopped being a link is forgotten when next visited; a
// name that no longer exists is only visited in vain, which costs one
// lstat.
type linkGroups struct {
	group map[string]string              // path -> group
	names map[string]map[string]struct{} // group -> paths
}

// note records that path is in group ("": in none).
func (g *linkGroups) note(path, group string) {
	old := g.group[path]
	if old == group {
		return
	}
	if old != "" {
		delete(g.names[old], path)
		if len(g.names[old]) == 0 {
			delete(g.names, old)
		}
		delete(g.group, path)
	}
	if group == "" {
		return
	}
	if g.group == nil {
		g.group, g.names = map[string]string{}, map[string]map[string]struct{}{}
	}
	g.group[path] = group
	if g.names[group] == nil {
		g.names[group] = map[string]struct{}{}
	}
	g.names[group][path] = struct{}{}
}

// peers returns the other names known in path's group.
func (g *linkGroups) peers(path string) []string {
	group := g.group[path]
	if group == "" {
		return nil
	}
	var out []string
	for p := range g.names[group] {
		if p != path {
			out = append(out, p)
		}
	}
	return out
}
