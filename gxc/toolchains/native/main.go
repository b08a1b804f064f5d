// Command gxc-native is the fast path of gxc's shims and activate hook (gxc.toolchains.native).
//
// It never decides anything. The Python resolver is the definition: when it answers for a directory
// it writes a resolution record listing everything it read (each environment variable, each path
// with its stat and lstat, each link it resolved, the uid it checked) and its answer. This program
// finds the record for the directory, checks every one of those reads against the world as it is
// now, and only if all of them still hold does it act on the answer: exec the toolchain's program
// (a shim) or print the shell code (the hook). On any difference, or anything it does not
// understand, it hands the call to the Python shim unchanged, which answers and writes a new record.
//
// Standard library only; built by gxc with an installed toolchain (CGO_ENABLED=0, -trimpath).
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

const (
	recordHeader = "gxc-resolution 1"
	launcherName = ".gxc-shim"
	pythonShim   = ".gxc-shim.py"
	nameVariable = "_GXC_SHIM_NAME" // tells the Python shim which program it stands in for
	idVariable   = "_GXC_NATIVE_ID" // and which gxc-native asks it for a record
	maxDepth     = 8
	maxRecord    = 1 << 20
	defaultPath  = "/bin:/usr/bin" // Python's os.defpath
	diffVar      = "_GXC_DIFF"
	addedVar     = "_GXC_PATH"
	warnedVar    = "_GXC_WARNED"
)

// identity is set when gxc builds this program (-X main.identity=...): a record is written for one identity.
var identity string

func main() {
	exe, err := os.Executable()
	if err != nil {
		os.Stderr.WriteString("gxc: error: the shim cannot find its own path: " + err.Error() + "\n")
		os.Exit(1)
	}
	home := filepath.Dir(filepath.Dir(exe))
	name := filepath.Base(os.Args[0])
	args := os.Args[1:]
	if name == launcherName && len(args) > 0 && args[0] == "hook" {
		hook(home, args)
		return
	}
	shim(home, name, args)
}

// handOver runs the Python shim with the call exactly as it came: it answers and writes a new record.
func handOver(home, name string, args []string) {
	launcher := filepath.Join(home, "shims", pythonShim)
	env := currentEnvironment()
	env.set(nameVariable, name)
	env.set(idVariable, identity)
	err := syscall.Exec(launcher, append([]string{launcher}, args...), env.list())
	os.Stderr.WriteString("gxc: error: cannot start the Python shim " + launcher + ": " + err.Error() +
		" (hint: run `gxc reshim`)\n")
	os.Exit(1)
}

// environment is the process environment as an ordered map, as Python's os.environ sees it (of a name
// given twice, the first).
type environment struct {
	keys   []string
	values map[string]string
}

func currentEnvironment() *environment {
	e := &environment{values: map[string]string{}}
	for _, kv := range os.Environ() {
		k, v, ok := strings.Cut(kv, "=")
		if _, seen := e.values[k]; ok && !seen {
			e.set(k, v)
		}
	}
	return e
}

func (e *environment) set(k, v string) {
	if _, ok := e.values[k]; !ok {
		e.keys = append(e.keys, k)
	}
	e.values[k] = v
}

func (e *environment) unset(k string) {
	if _, ok := e.values[k]; !ok {
		return
	}
	delete(e.values, k)
	for i, key := range e.keys {
		if key == k {
			e.keys = append(e.keys[:i], e.keys[i+1:]...)
			return
		}
	}
}

func (e *environment) lookup(k string) (string, bool) {
	v, ok := e.values[k]
	return v, ok
}

func (e *environment) copy() *environment {
	c := &environment{keys: append([]string(nil), e.keys...), values: map[string]string{}}
	for k, v := range e.values {
		c.values[k] = v
	}
	return c
}

func (e *environment) list() []string {
	out := make([]string, 0, len(e.keys))
	for _, k := range e.keys {
		out = append(out, k+"="+e.values[k])
	}
	return out
}

// record is one resolution as the Python resolver wrote it.
type record struct {
	kind, dir, override string
	lines               [][]string // the checks, each a line split on spaces
	toolchain           bool       // false: nothing applies here (the hook leaves the shell alone)
	root                string
	sets                [][2]string
	unsets              []string
	pathPrefix          string
	stderr              []string
	warnings            [][2]string // the hook's: id, text already escaped for a terminal
}

func recordPath(home, kind, dir, override string) string {
	sum := sha256.Sum256([]byte(kind + "\x00" + dir + "\x00" + override))
	return filepath.Join(home, "resolved", hex.EncodeToString(sum[:16]))
}

func unhex(s string) (string, bool) {
	b, err := hex.DecodeString(s)
	return string(b), err == nil
}

// readRecord reads a record gxc wrote: a regular file of this user's, not writable by others.
func readRecord(home, kind, dir, override string) *record {
	f, err := os.OpenFile(recordPath(home, kind, dir, override), os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil
	}
	defer f.Close()
	var st syscall.Stat_t
	if syscall.Fstat(int(f.Fd()), &st) != nil || st.Mode&syscall.S_IFMT != syscall.S_IFREG ||
		int(st.Uid) != os.Geteuid() || st.Mode&0o022 != 0 || st.Size > maxRecord {
		return nil
	}
	data := make([]byte, st.Size)
	if n, err := f.Read(data); err != nil || int64(n) != st.Size {
		return nil
	}
	return parseRecord(data, kind, dir, override)
}

func parseRecord(data []byte, kind, dir, override string) *record {
	text := string(data)
	if !strings.HasSuffix(text, "\n") {
		return nil
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) == 0 || lines[0] != recordHeader {
		return nil
	}
	r := &record{}
	for _, line := range lines[1:] {
		f := strings.Split(line, " ")
		if !r.take(f) {
			return nil
		}
	}
	if r.kind != kind || r.dir != dir || r.override != override {
		return nil
	}
	return r
}

// take reads one line of a record; false for a line this program does not understand.
func (r *record) take(f []string) bool {
	var ok bool
	switch {
	case f[0] == "kind" && len(f) == 2:
		r.kind, ok = f[1], true
	case f[0] == "dir" && len(f) == 2:
		r.dir, ok = unhex(f[1])
	case f[0] == "override" && len(f) == 2:
		r.override, ok = unhex(f[1])
	case (f[0] == "env" && len(f) == 3) || (f[0] == "path" && len(f) == 5) ||
		(f[0] == "real" && len(f) == 3) || (f[0] == "euid" && len(f) == 2):
		r.lines, ok = append(r.lines, f), true
	case f[0] == "result" && len(f) == 2 && (f[1] == "toolchain" || f[1] == "none"):
		r.toolchain, ok = f[1] == "toolchain", true
	case f[0] == "root" && len(f) == 2:
		r.root, ok = unhex(f[1])
	case f[0] == "set" && len(f) == 3:
		var k, v string
		k, ok = unhex(f[1])
		if ok {
			v, ok = unhex(f[2])
		}
		r.sets = append(r.sets, [2]string{k, v})
	case f[0] == "unset" && len(f) == 2:
		var k string
		k, ok = unhex(f[1])
		r.unsets = append(r.unsets, k)
	case f[0] == "path-prefix" && len(f) == 2:
		r.pathPrefix, ok = unhex(f[1])
	case f[0] == "stderr" && len(f) == 2:
		var s string
		s, ok = unhex(f[1])
		r.stderr = append(r.stderr, s)
	case f[0] == "warning" && len(f) == 3:
		var s string
		s, ok = unhex(f[2])
		r.warnings = append(r.warnings, [2]string{f[1], s})
	}
	return ok
}

// signature is observe.signature in gxc/ground/observe.py: what stat or lstat says of a path.
func signature(path string, follow, listed bool) string {
	var st syscall.Stat_t
	var err error
	if follow {
		err = syscall.Stat(path, &st)
	} else {
		err = syscall.Lstat(path, &st)
	}
	if err == syscall.ENOENT || err == syscall.ENOTDIR {
		return "-"
	}
	if errno, ok := err.(syscall.Errno); ok {
		return "E" + strconv.Itoa(int(errno))
	} else if err != nil {
		return "E?"
	}
	u := func(n uint64) string { return strconv.FormatUint(n, 10) }
	i := func(n int64) string { return strconv.FormatInt(n, 10) }
	if st.Mode&syscall.S_IFMT == syscall.S_IFDIR && !listed {
		return strings.Join([]string{u(uint64(st.Mode)), u(st.Ino), u(st.Dev), "0", u(uint64(st.Uid)),
			u(uint64(st.Gid)), "0", "0", "0"}, ":")
	}
	return strings.Join([]string{u(uint64(st.Mode)), u(st.Ino), u(st.Dev), u(uint64(st.Nlink)),
		u(uint64(st.Uid)), u(uint64(st.Gid)), i(st.Size), i(st.Mtim.Nano()), i(st.Ctim.Nano())}, ":")
}

// holds says whether every read the resolver made would give the same answer now.
func (r *record) holds(env *environment) bool {
	for _, f := range r.lines {
		if !holdsLine(f, env) {
			return false
		}
	}
	return true
}

func holdsLine(f []string, env *environment) bool {
	switch f[0] {
	case "env":
		name, ok := unhex(f[1])
		if !ok {
			return false
		}
		value, set := env.lookup(name)
		if f[2] == "-" {
			return !set
		}
		want, ok := unhex(f[2])
		return ok && set && value == want
	case "path":
		path, ok := unhex(f[1])
		listed := f[2] == "1"
		return ok && signature(path, true, listed) == f[3] && signature(path, false, listed) == f[4]
	case "real":
		path, ok := unhex(f[1])
		want, ok2 := unhex(f[2])
		got, err := filepath.EvalSymlinks(path)
		return ok && ok2 && err == nil && got == want
	case "euid":
		return f[1] == strconv.Itoa(os.Geteuid())
	}
	return false
}

// applied is managed_env's answer over `base`: the variables gxc sets, its PATH entries first, the secrets
// gxc never passes on dropped.
func (r *record) applied(base *environment) *environment {
	env := base.copy()
	if !r.toolchain {
		return env
	}
	for _, kv := range r.sets {
		env.set(kv[0], kv[1])
	}
	path, ok := base.lookup("PATH")
	if !ok {
		path = defaultPath
	}
	env.set("PATH", r.pathPrefix+":"+path)
	for _, k := range r.unsets {
		env.unset(k)
	}
	return env
}

// abspath is Python's os.path.abspath; false where the two languages would disagree (a leading //).
func abspath(p string) (string, bool) {
	if strings.HasPrefix(p, "//") && !strings.HasPrefix(p, "///") {
		return "", false
	}
	if filepath.IsAbs(p) {
		return filepath.Clean(p), true
	}
	cwd, err := syscall.Getwd()
	if err != nil || (strings.HasPrefix(cwd, "//") && !strings.HasPrefix(cwd, "///")) {
		return "", false
	}
	return filepath.Clean(filepath.Join(cwd, p)), true
}

// resolutionDir is gxc/shim.py's: `go -C DIR ...` (also after the verb) resolves in DIR.
func resolutionDir(args []string) (string, bool) {
	for i, arg := range args[:min(3, len(args))] {
		if (arg == "-C" || arg == "--C") && i+1 < len(args) {
			return abspath(args[i+1])
		}
		if strings.HasPrefix(arg, "-C=") || strings.HasPrefix(arg, "--C=") {
			_, dir, _ := strings.Cut(arg, "=")
			return abspath(dir)
		}
	}
	return abspath(".")
}

func shim(home, name string, args []string) {
	env := currentEnvironment()
	depthText, _ := env.lookup("GXC_SHIM_DEPTH")
	depth := 0
	if depthText != "" {
		n, err := strconv.Atoi(depthText)
		if err != nil || n < 0 {
			handOver(home, name, args)
		}
		depth = n
	}
	if depth+1 > maxDepth {
		handOver(home, name, args)
	}
	env.set("GXC_HOME", home)
	env.set("GXC_SHIM_DEPTH", strconv.Itoa(depth+1))
	rest, override := args, ""
	if len(args) > 0 && strings.HasPrefix(args[0], "+") {
		rest, override = args[1:], args[0][1:]
	}
	dir, ok := resolutionDir(rest)
	if !ok {
		handOver(home, name, args)
	}
	r := readRecord(home, "shim", dir, override)
	if r == nil || !r.toolchain || !r.holds(env) {
		handOver(home, name, args)
	}
	binary := filepath.Join(r.root, "bin", name)
	var st syscall.Stat_t
	if syscall.Stat(binary, &st) != nil || st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		handOver(home, name, args) // a per-port shim, or a program this toolchain lacks: Python says which
	}
	for _, line := range r.stderr {
		os.Stderr.WriteString(line)
	}
	if err := syscall.Exec(binary, append([]string{binary}, rest...), r.applied(env).list()); err != nil {
		handOver(home, name, args)
	}
}

// The activate hook (gxc/hookenv.py's script()): the shell code for this directory, from a record that holds.

func hook(home string, args []string) {
	shell, stamp := "bash", ""
	if len(args) > 1 && (args[1] == "bash" || args[1] == "zsh" || args[1] == "fish") {
		shell = args[1]
	}
	if len(args) > 2 {
		stamp = args[2]
	}
	current := currentEnvironment()
	base, ok := restored(current)
	cwd, err := syscall.Getwd()
	if !ok || err != nil {
		handOver(home, launcherName, args)
	}
	r := readRecord(home, "hook", cwd, "")
	if r == nil || !r.holds(base) {
		handOver(home, launcherName, args)
	}
	out, ok := hookScript(current, base, r.applied(base), r, shell)
	if !ok {
		handOver(home, launcherName, args)
	}
	removeDeadStamps(stamp)
	os.Stdout.WriteString(out + "\n")
}

func hookScript(current, base, env *environment, r *record, shell string) (string, bool) {
	changed := map[string]bool{}
	for _, k := range env.keys {
		if v, ok := base.lookup(k); (!ok || v != env.values[k]) && k != "PATH" {
			changed[k] = true
		}
	}
	previousText, _ := current.lookup(diffVar)
	previous, ok := decodeDiff(previousText)
	if !ok {
		return "", false
	}
	names := map[string]bool{}
	for k := range changed {
		names[k] = true
	}
	for k := range previous {
		names[k] = true
	}
	sorted, ok := asciiSorted(names)
	if !ok {
		return "", false
	}
	var lines []string
	for _, k := range sorted {
		v, set := env.lookup(k)
		lines = append(lines, assign(k, v, set, shell))
	}
	basePath, _ := base.lookup("PATH")
	inBase := map[string]bool{}
	for _, p := range strings.Split(basePath, ":") {
		inBase[p] = true
	}
	envPath, envHasPath := env.lookup("PATH")
	var added []string
	for _, p := range strings.Split(envPath, ":") {
		if p != "" && !inBase[p] {
			added = append(added, p)
		}
	}
	if currentPath, currentHasPath := current.lookup("PATH"); envHasPath != currentHasPath || envPath != currentPath {
		lines = append(lines, assign("PATH", envPath, envHasPath, shell))
	}
	keys, _ := asciiSorted(changed)
	diff := encodeDiff(keys, base)
	lines = append(lines, assign(diffVar, diff, diff != "", shell))
	list := encodeList(added)
	lines = append(lines, assign(addedVar, list, list != "", shell))
	warnedText, _ := current.lookup(warnedVar)
	var warned []string
	for _, w := range strings.Split(warnedText, ",") {
		if w != "" {
			warned = append(warned, w)
		}
	}
	for _, w := range r.warnings {
		if !contains(warned, w[0]) {
			os.Stderr.WriteString("gxc: warning: " + w[1] + "\n")
			warned = append(warned, w[0])
		}
	}
	if len(warned) > 0 {
		lines = append(lines, assign(warnedVar, strings.Join(warned, ","), true, shell))
	}
	return strings.Join(lines, "\n"), true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// asciiSorted sorts names as Python sorts them; false for a name outside ASCII, where the orders could differ.
func asciiSorted(set map[string]bool) ([]string, bool) {
	out := make([]string, 0, len(set))
	for k := range set {
		for i := 0; i < len(k); i++ {
			if k[i] >= 0x80 {
				return nil, false
			}
		}
		out = append(out, k)
	}
	sort.Strings(out)
	return out, true
}

// restored is gxc/ground/activation.py's: the environment before gxc's last activation.
func restored(current *environment) (*environment, bool) {
	env := current.copy()
	diffText, _ := current.lookup(diffVar)
	previous, ok := decodeDiff(diffText)
	if !ok {
		return nil, false
	}
	for k, v := range previous {
		if v == nil {
			env.unset(k)
		} else {
			env.set(k, *v)
		}
	}
	addedText, _ := current.lookup(addedVar)
	if strings.ContainsAny(addedText, " \t\n\r\v\f") {
		return nil, false
	}
	added := map[string]bool{}
	for _, item := range strings.Split(addedText, ",") {
		if item == "" {
			continue
		}
		p, ok := unhex(item)
		if !ok {
			return nil, false // Python raises here: let it say so
		}
		added[p] = true
	}
	if path, ok := env.lookup("PATH"); ok && len(added) > 0 {
		var kept []string
		for _, p := range strings.Split(path, ":") {
			if !added[p] {
				kept = append(kept, p)
			}
		}
		env.set("PATH", strings.Join(kept, ":"))
	}
	env.unset(diffVar)
	env.unset(addedVar)
	return env, true
}

func decodeDiff(text string) (map[string]*string, bool) {
	if strings.ContainsAny(text, " \t\n\r\v\f") {
		return nil, false // bytes.fromhex skips white space; leave such a value to Python
	}
	previous := map[string]*string{}
	for _, item := range strings.Split(text, ",") {
		if strings.HasSuffix(item, "-") && !strings.Contains(item, "=") {
			previous[item[:len(item)-1]] = nil
		} else if name, value, ok := strings.Cut(item, "="); ok {
			if v, ok := unhex(value); ok {
				previous[name] = &v
			}
		}
	}
	return previous, true
}

func encodeDiff(keys []string, base *environment) string {
	items := make([]string, 0, len(keys))
	for _, k := range keys {
		if v, ok := base.lookup(k); ok {
			items = append(items, k+"="+hex.EncodeToString([]byte(v)))
		} else {
			items = append(items, k+"-")
		}
	}
	return strings.Join(items, ",")
}

func encodeList(items []string) string {
	out := make([]string, 0, len(items))
	for _, i := range items {
		out = append(out, hex.EncodeToString([]byte(i)))
	}
	return strings.Join(out, ",")
}

// quote and assign are gxc/ground/shells.py's.
func quote(value, shell string) string {
	if shell == "fish" {
		return "'" + strings.ReplaceAll(strings.ReplaceAll(value, "\\", "\\\\"), "'", "\\'") + "'"
	}
	return "'" + strings.ReplaceAll(value, "'", "'\\''") + "'"
}

func assign(name, value string, set bool, shell string) string {
	if shell == "fish" {
		if !set {
			return "set -e " + name + ";"
		}
		if name == "PATH" {
			var b bytes.Buffer
			b.WriteString("set -gx PATH")
			for _, p := range strings.Split(value, ":") {
				if p != "" {
					b.WriteString(" " + quote(p, shell))
				}
			}
			return b.String() + ";"
		}
		return "set -gx " + name + " " + quote(value, shell) + ";"
	}
	if !set {
		return "unset " + name + ";"
	}
	return "export " + name + "=" + quote(value, shell) + ";"
}

// removeDeadStamps is gxc/hookenv.py's: stamp files of shells that are gone.
func removeDeadStamps(stamp string) {
	if !strings.Contains(stamp, "/") {
		return // Python's os.path.dirname gives '' here, which is no directory
	}
	dir := filepath.Dir(stamp)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		name := e.Name()
		pidText := name[strings.LastIndex(name, ".")+1:]
		if !strings.HasPrefix(name, "stamp.") || pidText == "" || strings.Trim(pidText, "0123456789") != "" {
			continue
		}
		pid, err := strconv.Atoi(pidText)
		if err != nil {
			continue
		}
		if syscall.Kill(pid, 0) == syscall.ESRCH {
			os.Remove(filepath.Join(dir, name))
		}
	}
}
