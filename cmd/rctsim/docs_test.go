package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var (
	mdLink    = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	mdHeading = regexp.MustCompile(`(?m)^#+ (.+)$`)
)

// slug is GitHub's anchor for a heading: lower case, spaces to hyphens, punctuation
// other than hyphens and underscores dropped.
func slug(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	var b strings.Builder
	for _, r := range h {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 127:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// TestDocLinks: every relative link in the top-level documents resolves to a file or
// folder inside the repository, and every #anchor to a heading of its document.
func TestDocLinks(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range []string{"README.md", "ARCHITECTURE.md"} {
		data, err := os.ReadFile(filepath.Join(root, doc))
		if err != nil {
			t.Fatal(err)
		}
		anchors := map[string]bool{}
		for _, m := range mdHeading.FindAllStringSubmatch(string(data), -1) {
			anchors[slug(m[1])] = true
		}
		links := mdLink.FindAllStringSubmatch(string(data), -1)
		if len(links) == 0 {
			t.Errorf("%s: no links found; is the pattern still right?", doc)
		}
		for _, m := range links {
			link := m[1]
			if strings.Contains(link, "://") || strings.HasPrefix(link, "mailto:") {
				continue
			}
			path, anchor, _ := strings.Cut(link, "#")
			if path == "" {
				if !anchors[anchor] {
					t.Errorf("%s: link %q: no heading with that anchor", doc, link)
				}
				continue
			}
			target := filepath.Join(root, filepath.FromSlash(path))
			if rel, err := filepath.Rel(root, target); err != nil || strings.HasPrefix(rel, "..") {
				t.Errorf("%s: link %q points outside the repository", doc, link)
				continue
			}
			if _, err := os.Stat(target); err != nil {
				t.Errorf("%s: link %q: %v", doc, link, err)
			}
		}
	}
}
