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

// docs are the documents whose links TestDocLinks checks, relative to the repository.
var docs = []string{"README.md", "ARCHITECTURE.md", "sim/PERFORMANCE.md", "train/PERFORMANCE.md"}

// TestDocLinks: every relative link in the documents resolves, from the document's
// folder, to a file or folder inside the repository, and every #anchor to a heading
// of the document it names.
func TestDocLinks(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	// Every document's text and the anchors of its headings, by absolute path.
	type document struct {
		text    string
		anchors map[string]bool
	}
	read := map[string]document{}
	for _, doc := range docs {
		abs := filepath.Join(root, filepath.FromSlash(doc))
		data, err := os.ReadFile(abs)
		if err != nil {
			t.Fatal(err)
		}
		d := document{text: string(data), anchors: map[string]bool{}}
		for _, m := range mdHeading.FindAllStringSubmatch(d.text, -1) {
			d.anchors[slug(m[1])] = true
		}
		read[abs] = d
	}
	for _, doc := range docs {
		abs := filepath.Join(root, filepath.FromSlash(doc))
		links := mdLink.FindAllStringSubmatch(read[abs].text, -1)
		if len(links) == 0 {
			t.Errorf("%s: no links found; is the pattern still right?", doc)
		}
		for _, m := range links {
			link := m[1]
			if strings.Contains(link, "://") || strings.HasPrefix(link, "mailto:") {
				continue
			}
			path, anchor, _ := strings.Cut(link, "#")
			target := abs
			if path != "" {
				target = filepath.Join(filepath.Dir(abs), filepath.FromSlash(path))
			}
			if rel, err := filepath.Rel(root, target); err != nil || strings.HasPrefix(rel, "..") {
				t.Errorf("%s: link %q points outside the repository", doc, link)
				continue
			}
			if _, err := os.Stat(target); err != nil {
				t.Errorf("%s: link %q: %v", doc, link, err)
				continue
			}
			if anchor == "" {
				continue
			}
			if d, ok := read[target]; !ok {
				t.Errorf("%s: link %q: an anchor into a document the test does not read", doc, link)
			} else if !d.anchors[anchor] {
				t.Errorf("%s: link %q: no heading with that anchor", doc, link)
			}
		}
	}
}
