"""The native fast path (gxc.toolchains.native) held to the Python resolver it stands in for.

A corpus of project layouts is answered by the Python shim alone and by gxc-native from the record
Python wrote; the answers (argv, the whole environment, stderr, exit code) must be identical, and a
native answer must really be native: the Python launcher is moved away while it answers. Then each
change that could change Python's answer (a pin file created, edited, chmod'ed or deleted at any
level, a trusted file edited, trust given or taken, a toolchain uninstalled, the default, config.toml,
each variable the resolver read) must send the next call back to Python, and its answer must again
be Python's. The program the shims run here is `goenvdump`, a real Go program built with the
installed toolchain and placed in each toolchain's bin/ as `.goenvdump` (a dot name, which `gxc reshim`
leaves alone), which prints its argv and environment.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import NEW, NEWEST, OLD, copy_home, gxc

pytestmark = pytest.mark.slow

DUMPER = """package main

import (
	"os"
	"strconv"
)

func main() {
	for _, a := range os.Args[1:] {
		os.Stdout.WriteString("argv " + strconv.Quote(a) + "\\n")
	}
	for _, kv := range os.Environ() {
		os.Stdout.WriteString("env " + strconv.Quote(kv) + "\\n")
	}
}
"""
SETTLE = 1.1  # gxc.ground.observe.RACY_SECONDS: what changed more recently is not recorded yet
HANDED_OVER = "cannot start the Python shim"
Answer = tuple[int, list[str], dict[str, str], str]


@pytest.fixture(scope="module")
def dumper(installed_home: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """goenvdump, built by the installed go1.24.11 (whose build cache gxc-native's build warmed)."""
    work = tmp_path_factory.mktemp("dumper")
    (work / "main.go").write_text(DUMPER)
    (work / "go.mod").write_text("module dumper\n\ngo 1.21\n")
    home = Path(installed_home["GXC_HOME"])
    env = {"PATH": os.environ["PATH"], "HOME": str(work), "GOROOT": str(home / "toolchains" / f"go{NEWEST}"),
           "GOTOOLCHAIN": "local", "CGO_ENABLED": "0", "GOCACHE": str(home / "work" / f"go{NEWEST}" / "cache"),
           "GOFLAGS": "", "GOENV": "off"}
    subprocess.run([str(home / "toolchains" / f"go{NEWEST}" / "bin" / "go"), "build", "-o", "goenvdump", "."],
                   cwd=work, env=env, check=True, capture_output=True)
    return work / "goenvdump"


def with_native(installed_home: dict[str, str], root: Path) -> dict[str, str]:
    """A home of its own, with the gxc-native that installed_home's `gxc reshim` built (libexec too)."""
    env = copy_home(installed_home, root)
    shutil.copytree(Path(installed_home["GXC_HOME"]) / "libexec", Path(env["GXC_HOME"]) / "libexec")
    return env


@pytest.fixture
def home(installed_home: dict[str, str], tmp_path: Path, dumper: Path) -> dict[str, str]:
    """A home of its own with gxc-native in its shims and goenvdump in every toolchain."""
    env = with_native(installed_home, tmp_path / "h")
    root = Path(env["GXC_HOME"])
    assert (root / "shims" / ".gxc-shim").read_bytes()[:4] == b"\x7fELF", "installed_home's reshim built gxc-native"
    for tree in (root / "toolchains").iterdir():
        shutil.copy(dumper, tree / "bin" / ".goenvdump")
    (root / "shims" / ".goenvdump").symlink_to(".gxc-shim")
    for version in (OLD, NEW, NEWEST):  # the first call makes the version's work dir: not recordable then
        python_answer(env, tmp_path, f"+{version}")
    return env


def parse(proc: subprocess.CompletedProcess[str]) -> Answer:
    argv, env = [], {}
    for line in proc.stdout.splitlines():
        kind, _, quoted = line.partition(" ")
        value = quoted[1:-1].encode().decode("unicode_escape")
        if kind == "argv":
            argv.append(value)
        else:
            name, _, val = value.partition("=")
            env[name] = val
    return proc.returncode, argv, env, proc.stderr


def run(env: dict[str, str], cwd: Path, program: Path, *args: str, **extra: str) -> Answer:
    proc = subprocess.run([str(program), *args], cwd=cwd, env=dict(env, **extra), capture_output=True, text=True,
                          timeout=60, check=False)
    return parse(proc)


def python_answer(env: dict[str, str], cwd: Path, *args: str, **extra: str) -> Answer:
    """The Python shim alone: its launcher told which program it stands in for, and asked for no record."""
    launcher = Path(env["GXC_HOME"]) / "shims" / ".gxc-shim.py"
    return run(env, cwd, launcher, *args, _GXC_SHIM_NAME=".goenvdump", **extra)


def native_answer(env: dict[str, str], cwd: Path, *args: str, **extra: str) -> Answer:
    return run(env, cwd, Path(env["GXC_HOME"]) / "shims" / ".goenvdump", *args, **extra)


@contextmanager
def python_away(env: dict[str, str]) -> Iterator[None]:
    """While this holds, only gxc-native can answer: a hand-over to Python fails."""
    launcher = Path(env["GXC_HOME"]) / "shims" / ".gxc-shim.py"
    launcher.rename(launcher.with_suffix(".away"))
    try:
        yield
    finally:
        launcher.with_suffix(".away").rename(launcher)


def native_only(env: dict[str, str], cwd: Path, *args: str, **extra: str) -> Answer:
    with python_away(env):
        return native_answer(env, cwd, *args, **extra)


def records(env: dict[str, str]) -> list[Path]:
    where = Path(env["GXC_HOME"]) / "resolved"
    return sorted(where.iterdir()) if where.is_dir() else []


def corpus(root: Path) -> list[tuple[str, Path, tuple[str, ...], dict[str, str]]]:
    """Every pin-file kind, inheritance, overrides, -C, trust states, variables, errors: (name, cwd, args, env)."""
    def project(name: str, files: dict[str, str], below: str = "") -> Path:
        where = root / name
        for rel, text in files.items():
            (where / rel).parent.mkdir(parents=True, exist_ok=True)
            (where / rel).write_text(text)
        (where / below).mkdir(parents=True, exist_ok=True)
        return where / below

    toml = project("toml", {"toolchains.toml": f'[toolchain]\ngo = "{NEW}"\n'}, "a/b/c")
    gover = project("gover", {".go-version": f"{OLD}\n"})
    return [
        ("toolchains.toml, from three levels below", toml, ("version",), {}),
        (".go-version", gover, ("build", "./..."), {}),
        (".tool-versions, first installed of two",
         project("tv", {".tool-versions": f"nodejs 20.1.0\ngolang 1.99.0 {NEW}\n"}), (), {}),
        ("go.mod toolchain line", project("modtc", {"go.mod": f"module m\n\ngo 1.21\n\ntoolchain go{NEWEST}\n"}),
         ("env",), {}),
        ("go.mod minimum only", project("modmin", {"go.mod": "module m\n\ngo 1.22\n"}), (), {}),
        ("go.work above a go.mod", project("work", {"go.work": "go 1.22\n\nuse ./mod\n",
                                                    "mod/go.mod": "module m\n\ngo 1.21\n"}, "mod"), (), {}),
        ("the default, nothing pinned", project("plain", {}), (), {}),
        ("+V override", toml, (f"+{NEWEST}", "version"), {}),
        ("-C DIR resolves there", project("elsewhere", {}), ("-C", str(gover), "build"), {}),
        ("--C=DIR after the verb", project("elsewhere2", {}), ("build", f"--C={gover}"), {}),
        ("GXC_TOOLCHAIN", toml, (), {"GXC_TOOLCHAIN": NEWEST}),
        ("trusted [env] by GXC_TRUSTED_PATHS",
         project("trusted", {"toolchains.toml": f'[toolchain]\ngo = "{NEW}"\n[env]\nFOO = "it\'s $x"\n'}), (),
         {"GXC_TRUSTED_PATHS": str(root / "trusted")}),
        ("untrusted [env]: ignored, with a warning",
         project("untrusted", {"toolchains.toml": f'[toolchain]\ngo = "{NEW}"\n[env]\nFOO = "x"\n'}), (), {}),
        ("an explicit override older than go.mod's minimum: a note",
         project("older", {"go.mod": "module m\n\ngo 1.22\n"}), (f"+{OLD}",), {}),
        ("exported GOPATH, GOBIN and GOMODCACHE win", toml, (),
         {"GOPATH": "/tmp/gp", "GOBIN": "/tmp/gb", "GOMODCACHE": "/tmp/gm"}),
        ("a secret never reaches go", toml, (), {"GXC_SIGNING_PASSWORD": "hunter2"}),
        ("a pin that is not installed", project("missing", {".go-version": "1.20.1\n"}), (), {}),
        ("a malformed toolchains.toml", project("bad", {"toolchains.toml": "[toolchain]\ngo = 1.22\n"}), (), {}),
        ("golang system", project("system", {".tool-versions": "golang system\n"}), ("version",), {}),
    ]


def test_the_native_shim_answers_every_layout_exactly_as_python_does(home: dict[str, str], tmp_path: Path) -> None:
    cases = corpus(tmp_path / "corpus")
    time.sleep(SETTLE)
    wrong, native = [], 0
    for name, cwd, args, extra in cases:
        native_answer(home, cwd, *args, **extra)  # hands over to Python, which keeps a record (one per directory)
        expected = python_answer(home, cwd, *args, **extra)
        got = native_only(home, cwd, *args, **extra)
        if got[3].startswith("gxc: error: " + HANDED_OVER):  # no record could stand: Python must answer
            got, handed = native_answer(home, cwd, *args, **extra), True
        else:
            native, handed = native + 1, False
        if got != expected:
            wrong.append(f"{name}: native {got} != python {expected}")
        if expected[0] != 0 and not handed:
            wrong.append(f"{name}: an error was answered from a record")
    assert wrong == []
    assert native == 16, "every successful layout but `golang system` is answered natively"
    assert "hunter2" not in str(python_answer(home, cases[0][1], GXC_SIGNING_PASSWORD="hunter2"))


Mutation = Callable[[dict[str, str], Path], dict[str, str]]


def _edit(path: Path, text: str) -> Mutation:
    def mutate(env: dict[str, str], root: Path) -> dict[str, str]:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
        return {}
    return mutate


def _remove(path: Path) -> Mutation:
    def mutate(env: dict[str, str], root: Path) -> dict[str, str]:
        (root / path).unlink()
        return {}
    return mutate


def _variable(name: str, value: str) -> Mutation:
    return lambda env, root: {name: value.replace("ROOT", str(root))}


def _gxc(*args: str) -> Mutation:
    def mutate(env: dict[str, str], root: Path) -> dict[str, str]:
        gxc(env, *args, cwd=root)
        return {}
    return mutate


def _chmod(path: Path, mode: int) -> Mutation:
    def mutate(env: dict[str, str], root: Path) -> dict[str, str]:
        (root / path).chmod(mode)
        return {}
    return mutate


def _config(text: str) -> Mutation:
    def mutate(env: dict[str, str], root: Path) -> dict[str, str]:
        config = Path(env["GXC_HOME"]) / "config" / "config.toml"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(text)
        return {}
    return mutate


TOML = Path("toolchains.toml")
# In order: each starts from where the one before left the project (calls are made from ROOT/a/b).
MUTATIONS: list[tuple[str, Mutation]] = [
    ("GOPATH exported", _variable("GOPATH", "/tmp/gp")),
    ("GOBIN exported", _variable("GOBIN", "/tmp/gb")),
    ("GOMODCACHE exported", _variable("GOMODCACHE", "/tmp/gm")),
    ("GXC_TOOLCHAIN set", _variable("GXC_TOOLCHAIN", NEWEST)),
    ("XDG_CONFIG_HOME set", _variable("XDG_CONFIG_HOME", "ROOT/xdg")),
    ("GXC_CACHE_REMOTE set", _variable("GXC_CACHE_REMOTE", "http://127.0.0.1:9/go")),
    ("config.toml isolates go env", _config("isolate_goenv = true\n")),
    ("the pin file chmod'ed", _chmod(TOML, 0o600)),
    ("a pin file created a level down", _edit(Path("a/.go-version"), f"{OLD}\n")),
    ("that pin file edited", _edit(Path("a/.go-version"), f"{NEWEST}\n")),
    ("a go.mod created below it", _edit(Path("a/b/go.mod"), f"module m\n\ngo 1.21\n\ntoolchain go{NEW}\n")),
    ("the go.mod deleted", _remove(Path("a/b/go.mod"))),
    ("the lower pin file deleted", _remove(Path("a/.go-version"))),
    ("the trusted file edited (trust revoked)", _edit(TOML, f'[toolchain]\ngo = "{NEWEST}"\n[env]\nFOO = "y"\n')),
    ("trusted again by GXC_TRUSTED_PATHS", _variable("GXC_TRUSTED_PATHS", "ROOT")),
    ("trusted with gxc trust", _gxc("trust")),
    ("untrusted with gxc untrust", _gxc("untrust")),
    ("the pinned toolchain uninstalled", _gxc("uninstall", NEWEST)),
    ("the pin file deleted: the default", _remove(TOML)),
    ("the default changed", _gxc("use", NEW)),
]


def test_every_change_the_resolver_would_see_sends_the_next_call_to_python(home: dict[str, str],
                                                                           tmp_path: Path) -> None:
    root = tmp_path / "project"
    (root / "a" / "b").mkdir(parents=True)
    (root / "toolchains.toml").write_text(f'[toolchain]\ngo = "{NEW}"\n[env]\nFOO = "x"\n')
    gxc(home, "trust", cwd=root)
    cwd = root / "a" / "b"
    extra: dict[str, str] = {}
    wrong = []
    for name, mutate in MUTATIONS:
        time.sleep(SETTLE)
        native_answer(home, cwd, "build", **extra)  # Python answers and records (or the record holds)
        before = native_only(home, cwd, "build", **extra)
        if HANDED_OVER in before[3] and python_answer(home, cwd, "build", **extra)[0] == 0:
            wrong.append(f"before {name}: no record was kept ({before[3].strip()})")
        extra = mutate(home, root)
        after = native_only(home, cwd, "build", **extra)
        if HANDED_OVER not in after[3]:
            wrong.append(f"{name}: answered from the old record: {after}")
        if native_answer(home, cwd, "build", **extra) != python_answer(home, cwd, "build", **extra):
            wrong.append(f"{name}: the answer differs from Python's")
    assert wrong == []


def hook_output(env: dict[str, str], cwd: Path, shell: str, native: bool, **extra: str) -> tuple[str, str]:
    shims = Path(env["GXC_HOME"]) / "shims"
    program = shims / (".gxc-shim" if native else ".gxc-shim.py")
    proc = subprocess.run([str(program), "hook", shell, ""], cwd=cwd, env=dict(env, **extra), capture_output=True,
                          text=True, timeout=60, check=True)
    return proc.stdout, proc.stderr


def entered(env: dict[str, str], cwd: Path) -> dict[str, str]:
    """The environment of a bash that ran the hook in `cwd` (Python's answer), as the next hook call sees it."""
    script = f'eval "$({Path(env["GXC_HOME"])}/shims/.gxc-shim.py hook bash "")"; env -0'
    out = subprocess.run(["bash", "-c", script], cwd=cwd, env=env, capture_output=True, check=True).stdout
    return dict(item.split("=", 1) for item in out.decode().split("\0") if "=" in item)


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_the_native_hook_prints_what_python_prints(home: dict[str, str], tmp_path: Path, shell: str) -> None:
    cases = corpus(tmp_path / "corpus")
    places = {name: cwd for name, cwd, args, extra in cases if not args and not extra}
    places["trusted"] = cases[11][1]
    trusting = {"GXC_TRUSTED_PATHS": str(tmp_path / "corpus" / "trusted")}
    starts = {"a fresh shell": dict(home, **trusting), "a shell inside .go-version's project":
              entered(dict(home, **trusting), cases[1][1])}
    time.sleep(SETTLE)
    wrong, native = [], 0
    for start_name, start in starts.items():
        for name, cwd in places.items():
            hook_output(start, cwd, shell, native=True)  # hands over; Python records
            expected = hook_output(start, cwd, shell, native=False)
            with python_away(home):
                proc = subprocess.run([str(Path(home["GXC_HOME"]) / "shims" / ".gxc-shim"), "hook", shell, ""],
                                      cwd=cwd, env=start, capture_output=True, text=True, timeout=60, check=False)
            if proc.returncode == 0:
                native += 1
                got = (proc.stdout, proc.stderr)
            else:
                got = hook_output(start, cwd, shell, native=True)
            if got != expected:
                wrong.append(f"{start_name} -> {name}: native {got} != python {expected}")
    assert wrong == []
    assert native >= 2 * (len(places) - 2), "only the error layouts may be left to Python"


def test_a_stale_or_planted_native_shim_never_answers_from_a_record(home: dict[str, str], tmp_path: Path,
                                                                     installed_home: dict[str, str]) -> None:
    """A gxc-native built by another gxc gets no records; a record others could write is never read."""
    from gxc.toolchains import goprogram, native

    project = tmp_path / "p"
    project.mkdir()
    (project / ".go-version").write_text(f"{NEW}\n")
    shims = Path(home["GXC_HOME"]) / "shims"
    time.sleep(SETTLE)
    native_answer(home, project, "build")
    [record] = records(home)
    assert native_only(home, project, "build")[0] == 0
    record.chmod(0o666)  # writable by others: a record anyone could have written is not gxc's
    assert HANDED_OVER in native_only(home, project, "build")[3]
    record.unlink()
    built = goprogram.build(native.SOURCE, str(tmp_path / "stale"), f"{home['GXC_HOME']}/toolchains/go{NEWEST}",
                            f"{installed_home['GXC_HOME']}/work/go{NEWEST}/cache", what="a stale native shim",
                            ldflags="-X main.identity=0123")
    stale = Path(built)
    shutil.copy(stale, shims / ".gxc-shim")
    (shims / ".gxc-shim.id").write_text("0123\n")
    assert native_answer(home, project, "build") == python_answer(home, project, "build")
    time.sleep(SETTLE)
    assert native_answer(home, project, "build") == python_answer(home, project, "build")
    assert records(home) == [], "Python keeps no record for a gxc-native that is not this gxc's"
    gxc(home, "reshim")
    assert (shims / ".gxc-shim").read_bytes() != stale.read_bytes(), "reshim put this gxc's gxc-native back"


def test_without_a_native_shim_python_serves_and_reshim_builds_it(installed_home: dict[str, str],
                                                                  tmp_path: Path) -> None:
    env = with_native(installed_home, tmp_path)
    shims = Path(env["GXC_HOME"]) / "shims"
    for name in (".gxc-shim", ".gxc-shim.id"):
        (shims / name).unlink()
    gxc(env, "uninstall", NEW)  # refreshes the shims: the Python launcher serves
    assert (shims / ".gxc-shim").read_text().startswith("#!")
    proc = subprocess.run([str(shims / "go"), "version"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          check=True)
    assert proc.stdout == f"go version go{OLD} linux/amd64\n"
    assert not (Path(env["GXC_HOME"]) / "resolved").exists(), "no gxc-native asked: no records"
    said = gxc(env, "reshim").stdout.splitlines()
    assert said[-1].startswith(f"built the native shim with go{NEWEST} in ")
    assert (shims / ".gxc-shim").read_bytes()[:4] == b"\x7fELF"
    assert gxc(env, "reshim").stdout.splitlines()[-1] == "the native shim is current"


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_real_shells_drive_the_native_hook_with_python_out_of_reach(home: dict[str, str], tmp_path: Path,
                                                                   shell: str) -> None:
    """`gxc init SHELL --activate` in a real shell: entering and leaving a project is answered by gxc-native."""
    project = tmp_path / "p"
    project.mkdir()
    (project / ".go-version").write_text(f"{NEWEST}\n")
    env = dict(home, XDG_RUNTIME_DIR=str(tmp_path))  # the hook's stamp dir
    time.sleep(SETTLE)
    for cwd in (tmp_path, project):
        hook_output(env, cwd, shell, native=True)  # Python answers once and keeps the records
    init = f"{sys.executable} -m gxc init {shell} --activate"
    if shell == "fish":
        script = f'{init} | source; cd {project}; echo $GOROOT; cd {tmp_path}; echo "[$GOROOT]"'
    else:
        script = f'eval "$({init})"; cd {project}; _gxc_hook; echo $GOROOT; cd {tmp_path}; _gxc_hook; echo "[$GOROOT]"'
    with python_away(home):
        proc = subprocess.run([shell, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=120, check=False)
    toolchains = f"{home['GXC_HOME']}/toolchains"  # leaving the project: the default applies
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, f"{toolchains}/go{NEWEST}\n[{toolchains}/go{OLD}]\n", "")


def test_gxc_native_builds_reproducibly(installed_home: dict[str, str], tmp_path: Path) -> None:
    """The same source, toolchain and identity give the same bytes wherever they are built: here, in another
    directory with an empty build cache, and in installed_home's libexec by `gxc reshim`."""
    from gxc.toolchains import goprogram, native

    home = Path(installed_home["GXC_HOME"])
    ident = native.identity()
    built = goprogram.build(native.SOURCE, str(tmp_path / "elsewhere" / "gxc-native"),
                            str(home / "toolchains" / f"go{NEWEST}"), str(tmp_path / "cache"),
                            what="the native shim", ldflags=f"-X main.identity={ident}")
    assert Path(built).read_bytes() == (home / "libexec" / f"gxc-native-{ident}").read_bytes()
