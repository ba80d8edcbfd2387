package report

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

// The browser test loads report pages in headless Chromium and checks what only a
// browser can: that the page runs without a console error, that every figure is laid
// out with a size, that the page fits a laptop's width, that the table of points sorts,
// that it reads with scripts off and prints. It saves screenshots to look at.
//
// It runs when RCTSIM_CHROMIUM names a Chromium (or Chrome) binary; .ci/run installs
// Debian's chromium and sets it. RCTSIM_SCREENSHOTS names the folder for the
// screenshots (default: the test's artifact directory, kept with go test -artifacts),
// and RCTSIM_REPORTS lists further report.html files to load, separated by the list
// separator (":"), such as the demo's out/demo/report.html.

// laptop is the viewport: a common laptop screen.
const laptopWidth, laptopHeight = 1366, 900

func TestBrowser(t *testing.T) {
	bin := os.Getenv("RCTSIM_CHROMIUM")
	if bin == "" {
		t.Skip("browser test skipped: set RCTSIM_CHROMIUM to a Chromium binary (.ci/run installs Debian's chromium and sets it)")
	}
	if _, err := exec.LookPath(bin); err != nil {
		t.Fatalf("RCTSIM_CHROMIUM=%s: %v", bin, err)
	}
	shots := os.Getenv("RCTSIM_SCREENSHOTS")
	if shots == "" {
		shots = t.ArtifactDir()
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}

	// The pages: a comparison, a training run and a sweep, as the other tests make
	// them, and any the caller names.
	dir := t.TempDir()
	cmp := filepath.Join(dir, "cmp")
	compareInto(t, cmp)
	pages := map[string]string{}
	write := func(name, path string, f func(w io.Writer) error) {
		var buf bytes.Buffer
		if err := f(&buf); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		pages[name] = path
	}
	write("comparison", filepath.Join(cmp, "report.html"), func(w io.Writer) error { return WriteFolder(w, cmp, cmp) })
	write("training_run", filepath.Join(cmp, "rct", "report.html"), func(w io.Writer) error {
		return WriteFolder(w, filepath.Join(cmp, "rct"), filepath.Join(cmp, "rct"))
	})
	csv := filepath.Join(dir, "sweep.csv")
	copyFile(t, filepath.Join("testdata", "sweep.csv"), csv)
	write("sweep", filepath.Join(dir, "sweep.report.html"), func(w io.Writer) error { return WriteSweep(w, csv, dir, SweepOptions{}) })
	for i, p := range filepath.SplitList(os.Getenv("RCTSIM_REPORTS")) {
		if p == "" {
			continue
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		pages[fmt.Sprintf("extra%d_%s", i+1, filepath.Base(filepath.Dir(abs)))] = abs
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	b, err := startBrowser(ctx, bin, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := b.close(); err != nil {
			t.Log(err)
		}
	}()
	for _, name := range slices.Sorted(maps.Keys(pages)) {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			checkInBrowser(t, ctx, b, name, pages[name], shots)
			t.Logf("%s: loaded, checked and shot in %v", name, time.Since(start).Round(time.Millisecond))
		})
	}
	t.Logf("screenshots in %s", shots)
}

// pageCheck is what the page reports about itself (the script checkScript).
type pageCheck struct {
	Title      string   `json:"title"`
	Figures    int      `json:"figures"`
	Sized      []string `json:"sized"`
	Empty      []string `json:"empty"`
	Height     int      `json:"height"`
	ScrollX    int      `json:"scrollX"`
	Points     bool     `json:"points"`
	Sortable   bool     `json:"sortable"`
	Ascending  bool     `json:"ascending"`
	Descending bool     `json:"descending"`
	Restored   bool     `json:"restored"`
	SortState  string   `json:"sortState"`
}

// checkScript measures every inline SVG and image, the page's width beyond the
// viewport, and sorts the table of points by energy both ways and back by point.
const checkScript = `(() => {
  const out = {title: document.title, figures: document.querySelectorAll("figure").length, sized: [], empty: []};
  document.querySelectorAll("svg, img").forEach((el, i) => {
    const r = el.getBoundingClientRect();
    const fig = el.closest("figure");
    const name = (fig ? fig.dataset.figure : el.tagName + i) + " " + Math.round(r.width) + "x" + Math.round(r.height);
    (r.width > 0 && r.height > 0 ? out.sized : out.empty).push(name);
  });
  out.height = Math.ceil(document.documentElement.scrollHeight);
  out.scrollX = document.documentElement.scrollWidth - window.innerWidth;
  const t = document.getElementById("points-table");
  out.points = !!t;
  if (t) {
    const heads = t.tHead.rows[t.tHead.rows.length - 1].cells;
    const col = Array.from(heads).findIndex(h => h.textContent.startsWith("energy_pj.total"));
    const btn = heads[col].querySelector("button");
    out.sortable = !!btn;
    if (btn) {
      const values = () => Array.from(t.tBodies[0].rows).map(r => r.cells[col].dataset.sort).filter(v => v !== undefined).map(Number);
      btn.click();
      let v = values();
      out.ascending = v.length > 1 && v.every((x, i) => i === 0 || v[i - 1] <= x);
      out.sortState = heads[col].getAttribute("aria-sort");
      btn.click();
      v = values();
      out.descending = v.every((x, i) => i === 0 || v[i - 1] >= x) && v[0] > v[v.length - 1];
      heads[0].querySelector("button").click();
      const points = Array.from(t.tBodies[0].rows).map(r => Number(r.cells[0].textContent));
      out.restored = points.every((x, i) => x === i);
    }
  }
  return JSON.stringify(out);
})()`

// checkInBrowser loads one page and checks it.
func checkInBrowser(t *testing.T, ctx context.Context, b *browser, name, path, shots string) {
	sess, target, err := b.newPage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer b.call(ctx, "", "Target.closeTarget", map[string]any{"targetId": target}, nil)
	mark := b.mark()
	u := (&url.URL{Scheme: "file", Path: filepath.ToSlash(path)}).String()
	if err := b.load(ctx, sess, u); err != nil {
		t.Fatal(err)
	}
	var res struct {
		Result struct {
			Value string `json:"value"`
		} `json:"result"`
		ExceptionDetails json.RawMessage `json:"exceptionDetails"`
	}
	if err := b.call(ctx, sess, "Runtime.evaluate", map[string]any{"expression": checkScript, "returnByValue": true}, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.ExceptionDetails) > 0 {
		t.Fatalf("the check script failed: %s", res.ExceptionDetails)
	}
	var pc pageCheck
	if err := json.Unmarshal([]byte(res.Result.Value), &pc); err != nil {
		t.Fatalf("%v: %q", err, res.Result.Value)
	}
	t.Logf("%s: %q, %d figures, %d SVGs sized (e.g. %s), %d px tall", name, pc.Title, pc.Figures, len(pc.Sized), first(pc.Sized), pc.Height)
	if len(pc.Empty) > 0 {
		t.Errorf("elements without a size: %v", pc.Empty)
	}
	if pc.Figures == 0 || len(pc.Sized) < pc.Figures {
		t.Errorf("%d figures, %d sized SVGs or images", pc.Figures, len(pc.Sized))
	}
	if pc.ScrollX > 0 {
		t.Errorf("the page is %d px wider than a %d px window", pc.ScrollX, laptopWidth)
	}
	if pc.Points && !(pc.Sortable && pc.Ascending && pc.Descending && pc.Restored && pc.SortState == "ascending") {
		t.Errorf("the table of points does not sort: %+v", pc)
	}

	if err := b.screenshot(ctx, sess, filepath.Join(shots, name+".png"), 0); err != nil {
		t.Error(err)
	}
	if err := b.screenshot(ctx, sess, filepath.Join(shots, name+"_full.png"), pc.Height); err != nil {
		t.Error(err)
	}
	// Print: the print style sheet lays the page out for A4.
	var pdf struct {
		Data string `json:"data"`
	}
	if err := b.call(ctx, sess, "Page.printToPDF", map[string]any{"paperWidth": 8.27, "paperHeight": 11.69, "printBackground": true}, &pdf); err != nil {
		t.Error(err)
	} else if data, err := base64.StdEncoding.DecodeString(pdf.Data); err != nil || !bytes.HasPrefix(data, []byte("%PDF")) {
		t.Errorf("printing gave no PDF: %v", err)
	} else if err := os.WriteFile(filepath.Join(shots, name+".pdf"), data, 0o644); err != nil {
		t.Error(err)
	}
	for _, e := range b.errorsSince(mark, sess) {
		t.Errorf("console: %s", e)
	}

	// With scripts off the page reads the same: the table keeps its order and the
	// figures their size.
	if name == "sweep" {
		if err := b.call(ctx, sess, "Emulation.setScriptExecutionDisabled", map[string]any{"value": true}, nil); err != nil {
			t.Fatal(err)
		}
		if err := b.load(ctx, sess, u); err != nil {
			t.Fatal(err)
		}
		if err := b.screenshot(ctx, sess, filepath.Join(shots, name+"_noscript.png"), 0); err != nil {
			t.Error(err)
		}
		const noScript = `JSON.stringify([document.documentElement.classList.contains("js"), document.querySelectorAll("#points-table th button").length,
		  document.querySelectorAll("#points-table tbody tr").length, Array.from(document.querySelectorAll("svg")).every(s => s.getBoundingClientRect().height > 0)])`
		if err := b.call(ctx, sess, "Runtime.evaluate", map[string]any{"expression": noScript, "returnByValue": true}, &res); err != nil {
			t.Fatal(err)
		}
		if res.Result.Value != "[false,0,24,true]" {
			t.Errorf("with scripts off: [js class, sort buttons, rows, SVGs sized] = %s, want [false,0,24,true]", res.Result.Value)
		}
	}
}

func first(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return s[0]
}

// browser is headless Chromium driven through the DevTools protocol over a pipe
// (--remote-debugging-pipe: commands on its fd 3, replies on fd 4, each a JSON
// message ended by a NUL byte), so the test needs no port and no library.
type browser struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	stderr *bytes.Buffer
	done   chan error

	mu      sync.Mutex
	next    int
	pending map[int]chan message
	events  []message
}

type message struct {
	ID        int             `json:"id,omitempty"`
	Method    string          `json:"method,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *cdpError       `json:"error,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
}

type cdpError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func startBrowser(ctx context.Context, bin, profile string) (*browser, error) {
	cmdIn, toBrowser, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	fromBrowser, cmdOut, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--user-data-dir="+profile,
		"--remote-debugging-pipe", "--hide-scrollbars", "--mute-audio", "--enable-logging=stderr", "--v=0", "about:blank")
	cmd.ExtraFiles = []*os.File{cmdIn, cmdOut} // fd 3 and 4
	b := &browser{cmd: cmd, in: toBrowser, stderr: &bytes.Buffer{}, done: make(chan error, 1), pending: map[int]chan message{}}
	cmd.Stderr = &lockedWriter{w: b.stderr}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	cmdIn.Close()
	cmdOut.Close()
	go func() { b.done <- cmd.Wait() }()
	go b.read(fromBrowser)
	var v struct {
		Product string `json:"product"`
	}
	if err := b.call(ctx, "", "Browser.getVersion", nil, &v); err != nil {
		b.close()
		return nil, fmt.Errorf("starting %s: %w\n%s", bin, err, b.log())
	}
	return b, nil
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (b *browser) log() string {
	lw := b.cmd.Stderr.(*lockedWriter)
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return b.stderr.String()
}

// read dispatches the browser's messages: replies to their callers, events to the log.
func (b *browser) read(r io.Reader) {
	br := bufio.NewReader(r)
	for {
		data, err := br.ReadBytes(0)
		if err != nil {
			b.mu.Lock()
			for id, ch := range b.pending {
				close(ch)
				delete(b.pending, id)
			}
			b.mu.Unlock()
			return
		}
		var m message
		if json.Unmarshal(data[:len(data)-1], &m) != nil {
			continue
		}
		b.mu.Lock()
		if m.ID != 0 {
			if ch, ok := b.pending[m.ID]; ok {
				ch <- m
				delete(b.pending, m.ID)
			}
		} else {
			b.events = append(b.events, m)
		}
		b.mu.Unlock()
	}
}

// call sends a command (to the page session sess, or the browser when "") and decodes
// its result into result.
func (b *browser) call(ctx context.Context, sess, method string, params, result any) error {
	b.mu.Lock()
	b.next++
	id := b.next
	ch := make(chan message, 1)
	b.pending[id] = ch
	b.mu.Unlock()
	if params == nil {
		params = struct{}{}
	}
	p, err := json.Marshal(params)
	if err != nil {
		return err
	}
	data, _ := json.Marshal(message{ID: id, Method: method, Params: p, SessionID: sess})
	if _, err := b.in.Write(append(data, 0)); err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	select {
	case m, ok := <-ch:
		if !ok {
			return fmt.Errorf("%s: the browser closed the connection", method)
		}
		if m.Error != nil {
			return fmt.Errorf("%s: %s (%d)", method, m.Error.Message, m.Error.Code)
		}
		if result != nil {
			return json.Unmarshal(m.Result, result)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

// newPage opens a tab at the laptop's size, attached with the events a check needs,
// and returns its session and target.
func (b *browser) newPage(ctx context.Context) (sess, target string, err error) {
	var tg struct {
		TargetID string `json:"targetId"`
	}
	if err := b.call(ctx, "", "Target.createTarget", map[string]any{"url": "about:blank"}, &tg); err != nil {
		return "", "", err
	}
	var att struct {
		SessionID string `json:"sessionId"`
	}
	if err := b.call(ctx, "", "Target.attachToTarget", map[string]any{"targetId": tg.TargetID, "flatten": true}, &att); err != nil {
		return "", "", err
	}
	for _, m := range []string{"Page.enable", "Runtime.enable", "Log.enable"} {
		if err := b.call(ctx, att.SessionID, m, nil, nil); err != nil {
			return "", "", err
		}
	}
	err = b.call(ctx, att.SessionID, "Emulation.setDeviceMetricsOverride",
		map[string]any{"width": laptopWidth, "height": laptopHeight, "deviceScaleFactor": 1, "mobile": false}, nil)
	return att.SessionID, tg.TargetID, err
}

// mark is the position in the event log, to look at the events after it.
func (b *browser) mark() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.events)
}

// load navigates the page to u and waits for its load event.
func (b *browser) load(ctx context.Context, sess, u string) error {
	mark := b.mark()
	var nav struct {
		ErrorText string `json:"errorText"`
	}
	if err := b.call(ctx, sess, "Page.navigate", map[string]any{"url": u}, &nav); err != nil {
		return err
	}
	if nav.ErrorText != "" {
		return fmt.Errorf("loading %s: %s", u, nav.ErrorText)
	}
	for {
		b.mu.Lock()
		for _, m := range b.events[mark:] {
			if m.SessionID == sess && m.Method == "Page.loadEventFired" {
				b.mu.Unlock()
				return nil
			}
		}
		mark = len(b.events)
		b.mu.Unlock()
		select {
		case <-ctx.Done():
			return fmt.Errorf("loading %s: %w", u, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// errorsSince lists the errors the page's console and log reported after mark:
// console.error and console.assert calls, uncaught exceptions, and log entries of
// level error (a resource that failed to load, a blocked script).
func (b *browser) errorsSince(mark int, sess string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, m := range b.events[mark:] {
		if m.SessionID != sess {
			continue
		}
		switch m.Method {
		case "Runtime.consoleAPICalled":
			var p struct {
				Type string            `json:"type"`
				Args []json.RawMessage `json:"args"`
			}
			json.Unmarshal(m.Params, &p)
			if p.Type == "error" || p.Type == "assert" {
				out = append(out, fmt.Sprintf("console.%s %s", p.Type, p.Args))
			}
		case "Runtime.exceptionThrown":
			out = append(out, "exception "+string(m.Params))
		case "Log.entryAdded":
			var p struct {
				Entry struct {
					Level, Source, Text, URL string
				} `json:"entry"`
			}
			json.Unmarshal(m.Params, &p)
			if p.Entry.Level == "error" {
				out = append(out, fmt.Sprintf("%s: %s %s", p.Entry.Source, p.Entry.Text, p.Entry.URL))
			}
		}
	}
	return out
}

// screenshot saves the page as PNG: the viewport when height is 0, else the page's
// first height pixels.
func (b *browser) screenshot(ctx context.Context, sess, path string, height int) error {
	params := map[string]any{"format": "png"}
	if height > 0 {
		params["captureBeyondViewport"] = true
		params["clip"] = map[string]any{"x": 0, "y": 0, "width": laptopWidth, "height": height, "scale": 1}
	}
	var shot struct {
		Data string `json:"data"`
	}
	if err := b.call(ctx, sess, "Page.captureScreenshot", params, &shot); err != nil {
		return err
	}
	data, err := base64.StdEncoding.DecodeString(shot.Data)
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

// close asks the browser to quit and waits for it; a browser that does not quit in
// time is killed.
func (b *browser) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b.call(ctx, "", "Browser.close", nil, nil)
	b.in.Close()
	select {
	case err := <-b.done:
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			return err
		}
		return nil
	case <-time.After(10 * time.Second):
		b.cmd.Process.Kill()
		return fmt.Errorf("the browser did not quit; killed it")
	}
}
