"""The native fast path of the shims and the activate hook: gxc-native, how it is built, what it reads.

A Python shim pays for starting CPython on every `go` (~15 ms). gxc-native (`native/main.go`, Go's
standard library only) is built by gxc with an installed toolchain and put in the shims directory as
`.gxc-shim`, the file every shim links to; the Python launcher stays beside it as `.gxc-shim.py`.

The Python resolver stays the only definition of which toolchain applies. When gxc-native hands a
call over, the Python shim (or hook) answers it under `gxc.ground.observe`, and writes a
*resolution record* in `GXC_HOME/resolved/`: its answer, and everything it read to reach it (each
variable, each path with its stat and lstat, absent pin files included, each link it resolved, the
uid it compared, the gxc modules it ran). gxc-native acts on a record only while every one of those
reads would still give the same answer, so an edit, a new pin file, an install or a changed variable
sends the next call back to Python. Records are written only when gxc-native asked (its identity is
in the record and must match), never on the hit path, and never for answers that printed an error,
installed something, or read the whole environment.

On the shim's path (writing a record): `os`, `sys`, the builtin `_sha256` and gxc.ground.observe.
"""

from __future__ import annotations

import os
import sys

from gxc.ground import paths

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from gxc.ground.observe import Observed

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "native", "main.go")
LAUNCHER = ".gxc-shim"  # what every shim links to: gxc-native when built, else the Python launcher
PYTHON_SHIM = ".gxc-shim.py"  # the Python launcher, where gxc-native hands over
ID_FILE = ".gxc-shim.id"  # the identity of the gxc-native in LAUNCHER
NAME_VARIABLE = "_GXC_SHIM_NAME"  # gxc-native tells the Python shim which program it stands in for
ID_VARIABLE = "_GXC_NATIVE_ID"  # and which gxc-native asks for a record
HEADER = "gxc-resolution 1"
MINIMUM_GO = (1, 21)  # the source uses the min builtin
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _sha256_hex(data: bytes) -> str:
    try:
        from _sha256 import sha256  # type: ignore[import-not-found]  # builtin: hashlib costs 8 ms at start-up
    except ImportError:  # pragma: no cover - every CPython build we support has it
        from hashlib import sha256
    digest: str = sha256(data).hexdigest()
    return digest


def identity() -> str:
    """Which gxc-native this gxc builds: its source and gxc's version (a new gxc rebuilds it)."""
    from gxc import __version__

    with open(SOURCE, "rb") as f:
        return _sha256_hex(f.read() + b"\n" + __version__.encode())[:16]


def record_path(home: str, kind: str, directory: str, override: str) -> str:
    key = _sha256_hex(f"{kind}\0{directory}\0{override}".encode("utf-8", "surrogateescape"))[:32]
    return os.path.join(home, "resolved", key)


class Answer:
    """What the resolver answered: the toolchain root (None: nothing applies), the variables gxc sets over
    the caller's environment, the PATH entries it puts first, the variables it drops."""

    __slots__ = ("path_prefix", "root", "sets", "unsets")

    def __init__(self, root: str | None, sets: Mapping[str, str] | None = None, path_prefix: tuple[str, ...] = (),
                 unsets: tuple[str, ...] = ()) -> None:
        self.root, self.sets, self.path_prefix, self.unsets = root, dict(sets or {}), path_prefix, unsets


def _hex(text: str) -> str:
    return text.encode("utf-8", "surrogateescape").hex()


def _module_files() -> list[str]:
    """The gxc modules this process ran: an edited or upgraded resolver invalidates what it recorded."""
    found = []
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if isinstance(path, str) and path.startswith(_PACKAGE + os.sep):
            found.append(path)
    return sorted(found)


def _lines(kind: str, directory: str, override: str, seen: Observed, answer: Answer, stderr: list[str],
           warnings: list[tuple[str, str]]) -> list[str]:
    lines = [HEADER, f"kind {kind}", f"dir {_hex(directory)}", f"override {_hex(override)}"]
    lines += [f"env {_hex(k)} {'-' if v is None else _hex(v)}" for k, v in seen.env.items()]
    lines += [f"path {_hex(p)} {int(s.listed)} {s.follow} {s.link}" for p, s in seen.paths.items()]
    lines += [f"real {_hex(p)} {_hex(t)}" for p, t in seen.realpaths.items()]
    if seen.euid is not None:
        lines.append(f"euid {seen.euid}")
    lines.append(f"result {'none' if answer.root is None else 'toolchain'}")
    if answer.root is not None:
        lines.append(f"root {_hex(answer.root)}")
        lines += [f"set {_hex(k)} {_hex(v)}" for k, v in answer.sets.items()]
        lines.append(f"path-prefix {_hex(os.pathsep.join(answer.path_prefix))}")
        lines += [f"unset {_hex(k)}" for k in answer.unsets]
    lines += [f"stderr {_hex(text)}" for text in stderr]
    lines += [f"warning {ident} {_hex(text)}" for ident, text in warnings]
    return lines


def write_record(home: str, kind: str, directory: str, override: str, seen: Observed, answer: Answer,
                 stderr: list[str] | None = None, warnings: list[tuple[str, str]] | None = None) -> bool:
    """Keep this answer for gxc-native, if everything it read is still as it was and settled; False if not."""
    for module in _module_files():
        seen.saw_path(module)
    if not seen.stable():
        return False
    text = "\n".join(_lines(kind, directory, override, seen, answer, stderr or [], warnings or [])) + "\n"
    path = record_path(home, kind, directory, override)
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        try:
            os.write(fd, text.encode("utf-8", "surrogateescape"))
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError:  # a read-only or full home: the next call asks Python again, nothing else changes
        try:  # noqa: SIM105 - contextlib is one more import on the shim's path
            os.unlink(tmp)
        except OSError:
            pass
        return False
    return True


def asked_by_native() -> bool:
    """Whether the gxc-native that handed this call over is the one this gxc builds (then a record helps)."""
    asked = os.environ.pop(ID_VARIABLE, "")
    return bool(asked) and asked == identity()


# Building and installing gxc-native (the CLI's side: `gxc init`, `gxc reshim`, `gxc doctor`).


def python_launcher_source() -> str:
    return (
        f"#!{sys.executable} -IS\n"
        "# gxc shim launcher: routes go, gofmt and <port>-go to the selected toolchain\n"
        "import sys\n"
        f"sys.path.insert(0, {os.path.dirname(_PACKAGE)!r})\n"
        "from gxc.shim import main\n"
        "main()\n"
    )


def installed_identity(shim_dir: str | None = None) -> str:
    """The identity of the gxc-native serving the shims, or '' when the Python launcher does."""
    try:
        with open(os.path.join(shim_dir or paths.shims_dir(), ID_FILE), encoding="ascii") as f:
            return f.read().strip()
    except (OSError, UnicodeDecodeError):
        return ""


def builder() -> str | None:
    """The installed release that builds gxc-native: the newest stable one that is new enough."""
    from gxc.project import resolve

    usable = [v for v in resolve.installed_versions() if v.is_stable and (v.major, v.minor) >= MINIMUM_GO]
    return str(max(usable)) if usable else None


def ensure() -> str:
    """Build gxc-native if this gxc's is not serving the shims yet, and put it there. Returns what happened
    ('' when it was already there); raises GxcError when it cannot be built (the Python shim serves on)."""
    from gxc.ground.errors import GxcError

    want = identity()
    shim_dir = paths.shims_dir()
    if installed_identity(shim_dir) == want and os.path.isfile(os.path.join(shim_dir, LAUNCHER)):
        return ""
    version = builder()
    if version is None:
        raise GxcError("no installed toolchain can build the native shim (it needs go1.21 or newer)",
                       "install one (`gxc install 1.22`), then run `gxc reshim`")
    import time

    from gxc.toolchains import goprogram, workdir

    started = time.monotonic()
    work = workdir.ensure(version)
    binary = goprogram.build(SOURCE, os.path.join(paths.home(), "libexec", f"gxc-native-{want}"),
                             paths.toolchain_dir(version), os.path.join(work, "cache"),
                             what="the native shim", ldflags=f"-X main.identity={want}")
    install(binary, want, shim_dir)
    return f"built the native shim with go{version} in {time.monotonic() - started:.1f} s"


def try_ensure() -> str:
    """ensure(), said in one line for `gxc init` and `gxc reshim`: '' when the native shim is current."""
    from gxc.ground.errors import GxcError

    if builder() is None:
        return NO_BUILDER
    try:
        return ensure()
    except (GxcError, OSError) as e:
        return f"the shims stay on Python: {getattr(e, 'message', None) or e}"


NO_BUILDER = "the shims run on Python until a toolchain (go1.21 or newer) can build the native shim"


def install(binary: str, ident: str, shim_dir: str) -> None:
    """Put gxc-native in the shims directory: one rename, so a shim never runs half a binary."""
    import shutil

    from gxc.ground.fsutil import atomic_write

    atomic_write(os.path.join(shim_dir, PYTHON_SHIM), python_launcher_source(), executable=True)
    tmp = os.path.join(shim_dir, f"{LAUNCHER}.{os.getpid()}.tmp")
    try:
        os.link(binary, tmp)
    except OSError:
        shutil.copy2(binary, tmp)
    os.replace(tmp, os.path.join(shim_dir, LAUNCHER))
    atomic_write(os.path.join(shim_dir, ID_FILE), ident + "\n")


def status() -> str:
    """`gxc doctor`'s line: '' when this gxc's native shim serves the shims, else why not."""
    want = identity()
    have = installed_identity()
    if have == want:
        return ""
    if have:
        return "the native shim was built by another gxc version; the Python shim answers every call"
    return "the shims run on Python (about 15 ms a call)"
