// Command gxc-cacheprog is the GOCACHEPROG program gxc gives managed toolchains (go1.24 and newer)
// when a fleet build cache is configured. gxc builds it with an installed toolchain; it uses the
// standard library only.
//
// Two tiers: the version's local directory (-dir), and a remote HTTP cache (-remote) in the Bazel
// HTTP cache layout, so nginx with WebDAV or bazel-remote serves it unchanged:
//
//	{remote}/cas/<OutputID hex>   the body (Go's OutputID is the SHA-256 of the body)
//	{remote}/ac/<ActionID hex>    a small JSON record naming the output: {"output", "size", "mac"}
//
// Gets look local first, then remote; a remote hit is written locally. Puts go local at once and
// to the remote in the background; "close" waits for pending uploads at most -close-wait.
// Nothing from the remote is believed blindly: a body whose SHA-256 is not its name is a miss, and
// with -key-file an action record without a valid HMAC-SHA256 is a miss too. Every remote fault
// (down, slow, 5xx, truncated) is a miss: the first one prints one note on stderr and turns the
// remote off for the rest of this go command. The protocol is Go's own (cmd/go/internal/cacheprog).
package main

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	maxRecord = 4 << 10 // an action record is ~150 bytes
	maxObject = 1 << 30 // the largest body believed from a record: a test binary with race is ~100 MiB
)

type request struct {
	ID       int64
	Command  string
	ActionID []byte `json:",omitempty"`
	OutputID []byte `json:",omitempty"`
	BodySize int64  `json:",omitempty"`
}

type response struct {
	ID            int64
	Err           string     `json:",omitempty"`
	KnownCommands []string   `json:",omitempty"`
	Miss          bool       `json:",omitempty"`
	OutputID      []byte     `json:",omitempty"`
	Size          int64      `json:",omitempty"`
	Time          *time.Time `json:",omitempty"`
	DiskPath      string     `json:",omitempty"`
}

type record struct {
	Output string `json:"output"`
	Size   int64  `json:"size"`
	MAC    string `json:"mac,omitempty"`
}

// stats is what one go command did with the cache; appended as one JSON line to -stats at close.
type stats struct {
	Time        string `json:"time"`
	Toolchain   string `json:"toolchain"`
	Remote      string `json:"remote"`
	ReadOnly    bool   `json:"read_only"`
	Gets        int64  `json:"gets"`
	LocalHits   int64  `json:"local_hits"`
	RemoteHits  int64  `json:"remote_hits"`
	Misses      int64  `json:"misses"`
	Puts        int64  `json:"puts"`
	Uploads     int64  `json:"uploads"`
	BytesDown   int64  `json:"bytes_down"`
	BytesUp     int64  `json:"bytes_up"`
	Requests    int64  `json:"requests"`
	Rejected    int64  `json:"rejected"`
	RemoteError string `json:"remote_error,omitempty"`
	Pending     int64  `json:"pending_at_close"`
}

type cache struct {
	dir       string
	remote    string
	readOnly  bool
	key       []byte
	client    *http.Client
	uploads   chan upload
	pending   sync.WaitGroup
	down      atomic.Bool
	noteOnce  sync.Once
	errMu     sync.Mutex
	stats     stats
	outMu     sync.Mutex
	out       *bufio.Writer
	enc       *json.Encoder
	inFlight  sync.WaitGroup
	uploading atomic.Int64
}

type upload struct {
	action, output string
	size           int64
}

func main() {
	dir := flag.String("dir", "", "the local tier (the toolchain version's own directory)")
	remote := flag.String("remote", "", "the remote HTTP cache's base URL")
	readOnly := flag.Bool("read-only", false, "never PUT to the remote")
	keyFile := flag.String("key-file", "", "the fleet's HMAC key: action records without a valid MAC are misses")
	timeout := flag.Duration("timeout", 10*time.Second, "the deadline of each remote request")
	closeWait := flag.Duration("close-wait", 30*time.Second, "how long close waits for pending uploads")
	statsPath := flag.String("stats", "", "append this go command's cache statistics here")
	toolchain := flag.String("toolchain", "", "the toolchain, for the statistics")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "gxc-cacheprog: -dir is required")
		os.Exit(2)
	}
	c := &cache{dir: *dir, remote: strings.TrimRight(*remote, "/"), readOnly: *readOnly,
		client: &http.Client{Timeout: *timeout}, uploads: make(chan upload, 1024),
		out: bufio.NewWriter(os.Stdout)}
	c.enc = json.NewEncoder(c.out)
	c.stats = stats{Toolchain: *toolchain, Remote: c.remote, ReadOnly: c.readOnly}
	if *keyFile != "" {
		key, err := os.ReadFile(*keyFile)
		key = bytes.TrimSpace(key)
		if err != nil || len(key) < 32 {
			c.note(fmt.Sprintf("the fleet key %s is unreadable or shorter than 32 bytes; remote action records are ignored", *keyFile))
			c.down.Store(true)
		}
		c.key = key
	}
	for _, sub := range []string{"o", "a", "tmp"} {
		if err := os.MkdirAll(filepath.Join(c.dir, sub), 0o755); err != nil {
			fmt.Fprintf(os.Stderr, "gxc-cacheprog: %v\n", err)
			os.Exit(1)
		}
	}
	for i := 0; i < 4; i++ {
		go c.uploader()
	}
	c.respond(&response{KnownCommands: []string{"get", "put", "close"}})
	c.serve(*closeWait, *statsPath)
}

func (c *cache) serve(closeWait time.Duration, statsPath string) {
	dec := json.NewDecoder(bufio.NewReaderSize(os.Stdin, 1<<20))
	for {
		var req request
		if err := dec.Decode(&req); err != nil {
			break // stdin closed: the go command is gone
		}
		var body []byte
		if req.Command == "put" && req.BodySize > 0 {
			if err := dec.Decode(&body); err != nil { // a base64 JSON string
				c.respond(&response{ID: req.ID, Err: fmt.Sprintf("reading the body: %v", err)})
				break
			}
		}
		switch req.Command {
		case "get":
			if res := c.getLocal(req); res != nil { // the warm path: answered at once, no goroutine to wake
				c.respond(res)
				continue
			}
			c.inFlight.Add(1)
			go func() { defer c.inFlight.Done(); c.respond(c.get(req)) }()
		case "put":
			c.respond(c.put(req, body)) // local writes; the upload is queued, never waited for here
		case "close":
			c.inFlight.Wait()
			c.finish(closeWait, statsPath)
			c.respond(&response{ID: req.ID})
			os.Exit(0)
		default:
			c.respond(&response{ID: req.ID, Err: "unknown command " + strconv.Quote(req.Command)})
		}
	}
	c.inFlight.Wait()
	c.finish(closeWait, statsPath)
}

func (c *cache) respond(res *response) {
	c.outMu.Lock()
	defer c.outMu.Unlock()
	_ = c.enc.Encode(res)
	_ = c.out.Flush()
}

func (c *cache) objectPath(output string) string { return filepath.Join(c.dir, "o", output) }
func (c *cache) entryPath(action string) string  { return filepath.Join(c.dir, "a", action) }

// writeAtomic puts data at path through a temporary file and a rename: concurrent go commands of the
// same version share the directory, and a reader never sees half a file.
func (c *cache) writeAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Join(c.dir, "tmp"), "w-")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

func (c *cache) localEntry(action string) (output string, size int64, when time.Time, ok bool) {
	data, err := os.ReadFile(c.entryPath(action))
	if err != nil {
		return "", 0, time.Time{}, false
	}
	fields := strings.Fields(string(data))
	if len(fields) != 4 || fields[0] != "v1" {
		return "", 0, time.Time{}, false
	}
	size, err1 := strconv.ParseInt(fields[2], 10, 64)
	nanos, err2 := strconv.ParseInt(fields[3], 10, 64)
	if err1 != nil || err2 != nil || !hexID(fields[1]) {
		return "", 0, time.Time{}, false
	}
	info, err := os.Stat(c.objectPath(fields[1]))
	if err != nil || info.Size() != size {
		return "", 0, time.Time{}, false
	}
	return fields[1], size, time.Unix(0, nanos), true
}

func (c *cache) writeEntry(action, output string, size int64) error {
	line := fmt.Sprintf("v1 %s %d %d\n", output, size, time.Now().UnixNano())
	return c.writeAtomic(c.entryPath(action), []byte(line))
}

func hexID(s string) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == sha256.Size
}

func (c *cache) hit(output string, size int64, when time.Time) *response {
	raw, _ := hex.DecodeString(output)
	return &response{OutputID: raw, Size: size, Time: &when, DiskPath: c.objectPath(output)}
}

// getLocal answers a get from the local tier, or returns nil for the remote to try.
func (c *cache) getLocal(req request) *response {
	output, size, when, ok := c.localEntry(hex.EncodeToString(req.ActionID))
	if !ok {
		return nil
	}
	atomic.AddInt64(&c.stats.Gets, 1)
	atomic.AddInt64(&c.stats.LocalHits, 1)
	res := c.hit(output, size, when)
	res.ID = req.ID
	return res
}

func (c *cache) get(req request) *response {
	atomic.AddInt64(&c.stats.Gets, 1)
	action := hex.EncodeToString(req.ActionID)
	if res := c.remoteGet(action); res != nil {
		atomic.AddInt64(&c.stats.RemoteHits, 1)
		res.ID = req.ID
		return res
	}
	atomic.AddInt64(&c.stats.Misses, 1)
	return &response{ID: req.ID, Miss: true}
}

func (c *cache) mac(action, output string, size int64) string {
	m := hmac.New(sha256.New, c.key)
	fmt.Fprintf(m, "gxc-ac-v1\n%s\n%s\n%d\n", action, output, size)
	return hex.EncodeToString(m.Sum(nil))
}

// open GETs url from the remote; nil on a miss (404), with the remote off, or on any fault (which turns it off).
// The caller closes the body.
func (c *cache) open(url string) *http.Response {
	if c.remote == "" || c.down.Load() {
		return nil
	}
	atomic.AddInt64(&c.stats.Requests, 1)
	resp, err := c.client.Get(url)
	if err != nil {
		c.fail(err)
		return nil
	}
	if resp.StatusCode == http.StatusOK {
		return resp
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		c.fail(fmt.Errorf("GET %s: %s", url, resp.Status))
	}
	return nil
}

// fetch GETs url with at most limit bytes; nil on a miss or any fault.
func (c *cache) fetch(url string, limit int64) []byte {
	resp := c.open(url)
	if resp == nil {
		return nil
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		c.fail(fmt.Errorf("GET %s: %v", url, err))
		return nil
	}
	if int64(len(data)) > limit {
		atomic.AddInt64(&c.stats.Rejected, 1)
		return nil
	}
	atomic.AddInt64(&c.stats.BytesDown, int64(len(data)))
	return data
}

func (c *cache) remoteGet(action string) *response {
	data := c.fetch(c.remote+"/ac/"+action, maxRecord)
	if data == nil {
		return nil
	}
	var rec record
	if json.Unmarshal(data, &rec) != nil || !hexID(rec.Output) || rec.Size < 0 || rec.Size > maxObject {
		atomic.AddInt64(&c.stats.Rejected, 1)
		return nil
	}
	if c.key != nil && !hmac.Equal([]byte(rec.MAC), []byte(c.mac(action, rec.Output, rec.Size))) {
		atomic.AddInt64(&c.stats.Rejected, 1) // written by someone without the fleet key
		return nil
	}
	info, err := os.Stat(c.objectPath(rec.Output))
	if (err != nil || info.Size() != rec.Size) && !c.fetchObject(rec.Output, rec.Size) {
		return nil
	}
	if c.writeEntry(action, rec.Output, rec.Size) != nil {
		return nil
	}
	return c.hit(rec.Output, rec.Size, time.Now())
}

// fetchObject streams cas/<output> into the local tier, hashing as it goes (memory stays bounded whatever
// size a record claims); a body of another length or hash is a miss, never a build input.
func (c *cache) fetchObject(output string, size int64) bool {
	url := c.remote + "/cas/" + output
	resp := c.open(url)
	if resp == nil {
		return false
	}
	defer resp.Body.Close()
	f, err := os.CreateTemp(filepath.Join(c.dir, "tmp"), "r-")
	if err != nil {
		c.localNote(err)
		return false
	}
	defer os.Remove(f.Name())
	hasher := sha256.New()
	local := &recordingWriter{w: f}
	n, err := io.Copy(io.MultiWriter(local, hasher), io.LimitReader(resp.Body, size+1))
	if cerr := f.Close(); local.err == nil && cerr != nil {
		local.err = cerr
	}
	if local.err != nil { // our disk, not the remote: a full local tier
		c.localNote(local.err)
		return false
	}
	if err != nil {
		c.fail(fmt.Errorf("GET %s: %v", url, err))
		return false
	}
	atomic.AddInt64(&c.stats.BytesDown, n)
	if n != size || hex.EncodeToString(hasher.Sum(nil)) != output {
		atomic.AddInt64(&c.stats.Rejected, 1) // forged or truncated
		return false
	}
	return os.Rename(f.Name(), c.objectPath(output)) == nil
}

func (c *cache) put(req request, body []byte) *response {
	atomic.AddInt64(&c.stats.Puts, 1)
	sum := sha256.Sum256(body)
	output := hex.EncodeToString(sum[:])
	if !bytes.Equal(sum[:], req.OutputID) || int64(len(body)) != req.BodySize {
		return &response{ID: req.ID, Err: "the body does not match its OutputID"}
	}
	action := hex.EncodeToString(req.ActionID)
	path := c.objectPath(output)
	if info, err := os.Stat(path); err != nil || info.Size() != int64(len(body)) {
		if err := c.writeAtomic(path, body); err != nil {
			return c.localFail(req.ID, err)
		}
	}
	if err := c.writeEntry(action, output, int64(len(body))); err != nil {
		return c.localFail(req.ID, err)
	}
	if c.remote != "" && !c.readOnly && !c.down.Load() {
		c.pending.Add(1)
		c.uploading.Add(1)
		select {
		case c.uploads <- upload{action, output, int64(len(body))}:
		default: // the queue is full: this one stays local rather than slow the build
			c.pending.Done()
			c.uploading.Add(-1)
		}
	}
	return &response{ID: req.ID, DiskPath: path}
}

// localFail answers a put the local tier could not keep (a full disk): go carries on with what it built,
// and the user hears it once.
func (c *cache) localFail(id int64, err error) *response {
	c.localNote(err)
	return &response{ID: id, Err: fmt.Sprintf("writing the local cache: %v", err)}
}

func (c *cache) localNote(err error) {
	c.note(fmt.Sprintf("the local build cache %s cannot be written (%v); this build goes on without caching", c.dir, err))
}

// recordingWriter keeps the first error of the file it writes, so a copy can tell a full disk from a bad server.
type recordingWriter struct {
	w   io.Writer
	err error
}

func (r *recordingWriter) Write(p []byte) (int, error) {
	n, err := r.w.Write(p)
	if err != nil && r.err == nil {
		r.err = err
	}
	return n, err
}

func (c *cache) uploader() {
	for u := range c.uploads {
		if !c.down.Load() {
			c.upload(u)
		}
		c.uploading.Add(-1)
		c.pending.Done()
	}
}

func (c *cache) upload(u upload) {
	body, err := os.ReadFile(c.objectPath(u.output))
	if err != nil {
		return
	}
	if !c.send(c.remote+"/cas/"+u.output, body) {
		return
	}
	rec := record{Output: u.output, Size: u.size}
	if c.key != nil {
		rec.MAC = c.mac(u.action, u.output, u.size)
	}
	data, _ := json.Marshal(rec)
	if c.send(c.remote+"/ac/"+u.action, data) {
		atomic.AddInt64(&c.stats.Uploads, 1)
	}
}

func (c *cache) send(url string, body []byte) bool {
	atomic.AddInt64(&c.stats.Requests, 1)
	req, err := http.NewRequest(http.MethodPut, url, bytes.NewReader(body))
	if err != nil {
		c.fail(err)
		return false
	}
	resp, err := c.client.Do(req)
	if err != nil {
		c.fail(err)
		return false
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxRecord))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		c.fail(fmt.Errorf("PUT %s: %s", url, resp.Status))
		return false
	}
	atomic.AddInt64(&c.stats.BytesUp, int64(len(body)))
	return true
}

// fail turns the remote off for the rest of this go command, with one note: the build goes on locally.
func (c *cache) fail(err error) {
	c.down.Store(true)
	var urlErr interface{ Timeout() bool }
	text := err.Error()
	if errors.As(err, &urlErr) && urlErr.Timeout() {
		text = "no answer within the deadline"
	}
	c.errMu.Lock()
	if c.stats.RemoteError == "" {
		c.stats.RemoteError = text
	}
	c.errMu.Unlock()
	c.note(fmt.Sprintf("the remote build cache %s failed (%s); this build goes on with the local cache only", c.remote, text))
}

// note prints once per go command; under `gxc build` (GXC_CACHE_NOTE_ONCE names a file for the whole
// build) once per build, whichever of its go commands hits the fault first.
func (c *cache) note(text string) {
	c.noteOnce.Do(func() {
		if marker := os.Getenv("GXC_CACHE_NOTE_ONCE"); marker != "" {
			f, err := os.OpenFile(marker, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return // another go command of this build said it
			}
			f.Close()
		}
		fmt.Fprintf(os.Stderr, "gxc: note: %s\n", text)
	})
}

// finish waits for pending uploads (at most closeWait), then appends this go command's statistics.
func (c *cache) finish(closeWait time.Duration, statsPath string) {
	done := make(chan struct{})
	go func() { c.pending.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(closeWait):
		c.note(fmt.Sprintf("%d upload(s) to %s still pending after %s; they stay local", c.uploading.Load(), c.remote, closeWait))
	}
	if statsPath == "" {
		return
	}
	c.errMu.Lock()
	s := c.stats
	c.errMu.Unlock()
	s.Pending = c.uploading.Load()
	s.Time = time.Now().UTC().Format(time.RFC3339)
	line, _ := json.Marshal(s)
	os.MkdirAll(filepath.Dir(statsPath), 0o755)
	f, err := os.OpenFile(statsPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_NOFOLLOW, 0o644)
	if err != nil {
		return
	}
	f.Write(append(line, '\n'))
	f.Close()
}
