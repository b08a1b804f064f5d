"""Pins, resolution and shims with real toolchains: each project gets its own go, isolated."""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import NEW, NEWEST, OLD, gxc

pytestmark = pytest.mark.slow


def shim_env(env: dict[str, str], **extra: str) -> dict[str, str]:
    out = dict(env)
    out["PATH"] = f"{env['GXC_HOME']}/shims:{env['PATH']}"
    out.update(extra)
    return out


def go(env: dict[str, str], cwd: Path, *args: str, check: bool = True, **extra: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["go", *args], cwd=cwd, env=shim_env(env, **extra), capture_output=True, text=True,
                          timeout=300, check=False)
    if check and proc.returncode:
        raise AssertionError(f"go {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def project(root: Path, **files: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name.replace("_", ".", 1) if name.startswith("_") else root / name).write_text(text)
    return root


def test_each_project_gets_its_pinned_go_through_the_shim(installed_home: dict[str, str], tmp_path: Path) -> None:
    a = project(tmp_path / "a", **{"toolchains.toml": f'[toolchain]\ngo = "{OLD}"\n'})
    b = project(tmp_path / "b", **{"go.mod": f"module b\n\ngo 1.21\n\ntoolchain go{NEW}\n"})
    nested = a / "cmd" / "deep" / "er"
    nested.mkdir(parents=True)
    assert go(installed_home, a, "version").stdout == f"go version go{OLD} linux/amd64\n"
    assert go(installed_home, b, "version").stdout == f"go version go{NEW} linux/amd64\n"
    assert go(installed_home, nested, "version").stdout == f"go version go{OLD} linux/amd64\n"
    assert go(installed_home, a, "version", GXC_TOOLCHAIN=NEWEST).stdout == f"go version go{NEWEST} linux/amd64\n"
    assert go(installed_home, a, f"+{NEW}", "version").stdout == f"go version go{NEW} linux/amd64\n"
    assert gxc(installed_home, "current", cwd=nested).stdout == f"go{OLD} (pinned by {a}/toolchains.toml)\n"
    assert gxc(installed_home, "current", cwd=b).stdout == f"go{NEW} (go.mod toolchain line in {b}/go.mod)\n"
    env = dict(installed_home, GXC_TOOLCHAIN="1.22")
    assert gxc(env, "current", cwd=a).stdout == f"go{NEW} (GXC_TOOLCHAIN)\n"
    assert gxc(installed_home, "current", cwd=tmp_path).stdout == f"go{OLD} (default)\n"


def test_other_pin_file_forms_are_read(installed_home: dict[str, str], tmp_path: Path) -> None:
    gv = project(tmp_path / "gv", **{".go-version": f"{NEW}\n"})
    tv = project(tmp_path / "tv", **{".tool-versions": f"nodejs 20.1.0\ngolang {NEWEST}  # for CI\n"})
    work = project(tmp_path / "w", **{"go.work": f"go 1.22\n\ntoolchain go{NEW}\n\nuse ./m\n"})
    assert gxc(installed_home, "current", cwd=gv).stdout == f"go{NEW} (pinned by {gv}/.go-version)\n"
    assert gxc(installed_home, "current", cwd=tv).stdout == f"go{NEWEST} (pinned by {tv}/.tool-versions)\n"
    assert gxc(installed_home, "current", cwd=work).stdout == f"go{NEW} (go.work toolchain line in {work}/go.work)\n"


def test_go_mod_minimum_newer_than_the_default_takes_the_newest_installed(installed_home: dict[str, str],
                                                                         tmp_path: Path) -> None:
    app = project(tmp_path / "app", **{"go.mod": "module app\n\ngo 1.22\n"})
    proc = go(installed_home, app, "version")
    assert (proc.stdout, proc.stderr) == (f"go version go{NEWEST} linux/amd64\n", "")


def test_go_mod_minimum_without_pin_or_default_picks_a_matching_installed_version(
        own_home: dict[str, str], tmp_path: Path) -> None:
    (Path(own_home["GXC_HOME"]) / "settings.toml").unlink()
    gxc(own_home, "uninstall", NEWEST)
    app = project(tmp_path / "app", **{"go.mod": "module app\n\ngo 1.22\n"})
    assert go(own_home, app, "version").stdout == f"go version go{NEW} linux/amd64\n"
    assert gxc(own_home, "current", cwd=app).stdout == f"go{NEW} (newest installed for go 1.22 in {app}/go.mod)\n"


def test_pin_older_than_go_mod_minimum_names_both_files(installed_home: dict[str, str], tmp_path: Path) -> None:
    app = project(tmp_path / "app", **{"go.mod": "module app\n\ngo 1.22.3\n",
                                      "toolchains.toml": f'[toolchain]\ngo = "{OLD}"\n'})
    proc = gxc(installed_home, "current", cwd=app, check=False)
    assert (proc.returncode, proc.stderr) == (2, (
        f"gxc: error: go{OLD} (pinned by {app}/toolchains.toml) is older than go 1.22.3 required by {app}/go.mod "
        "(hint: pin go1.22.3 or newer (`gxc pin 1.22`), or lower the go line)\n"))
    # an explicit override is the user's word for this call: it runs, and go says what it says (as with
    # GOTOOLCHAIN=local, `go version` works and a build is refused by go itself)
    ran = go(installed_home, app, f"+{OLD}", "version")
    assert ran.stdout == f"go version go{OLD} linux/amd64\n"
    assert ran.stderr == f"gxc: note: go{OLD} (+ argument) is older than go 1.22.3 required by {app}/go.mod; " \
                         "running it as you asked\n"
    assert gxc(installed_home, "exec", "-T", OLD, "--", "go", "env", "GOVERSION", cwd=app).stdout == f"go{OLD}\n"


HELLO_TOOL = 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("tool") }\n'


def test_work_dirs_isolate_caches_and_share_installed_tools(own_home: dict[str, str], tmp_path: Path) -> None:
    tool = project(tmp_path / "tool", **{"go.mod": "module example.com/hellotool\n\ngo 1.21\n", "main.go": HELLO_TOOL})
    go(own_home, tool, f"+{OLD}", "install", ".")
    work = Path(own_home["GXC_HOME"]) / "work"
    assert (Path(own_home["GXC_HOME"]) / "bin" / "hellotool").is_file()  # the shared GOBIN, not a version's GOPATH
    assert not (work / f"go{OLD}" / "gopath" / "bin" / "hellotool").exists()
    assert go(own_home, tool, f"+{NEW}", "env", "GOPATH").stdout == f"{work}/go{NEW}/gopath\n"
    caches = [go(own_home, tool, f"+{v}", "env", "GOCACHE").stdout for v in (OLD, NEW)]
    assert caches == [f"{work}/go{OLD}/cache\n", f"{work}/go{NEW}/cache\n"]
    assert go(own_home, tool, f"+{NEW}", "env", "GOMODCACHE").stdout == f"{own_home['GXC_HOME']}/modcache\n"


def test_gotoolchain_is_local_even_when_go_mod_names_an_uninstalled_toolchain(
        installed_home: dict[str, str], tmp_path: Path) -> None:
    app = project(tmp_path / "app", **{"go.mod": "module app\n\ngo 1.21\n\ntoolchain go1.23.4\n"})
    blocked = {"GOPROXY": "off", "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9",
               "GXC_TOOLCHAIN": OLD, "GOTOOLCHAIN": "auto"}
    proc = go(dict(installed_home, **blocked), app, "env", "GOTOOLCHAIN", "GOVERSION")
    assert proc.stdout == f"local\ngo{OLD}\n"
    assert proc.stderr == ""
    proc = go(installed_home, app, "version", check=False)
    assert (proc.returncode, proc.stderr) == (1, "gxc: error: go1.23.4 is not installed (go.mod toolchain "
                                                 f"line in {app}/go.mod) (hint: run `gxc install 1.23.4`)\n")


def test_exit_codes_pass_through_the_shim(installed_home: dict[str, str], tmp_path: Path) -> None:
    direct = subprocess.run([f"{installed_home['GXC_HOME']}/toolchains/go{OLD}/bin/go", "tool", "nonexistent"],
                            capture_output=True, text=True, check=False)
    proc = go(installed_home, tmp_path, "tool", "nonexistent", check=False)
    assert direct.returncode != 0
    assert (proc.returncode, proc.stderr) == (direct.returncode, direct.stderr)


SLEEPER = """package main

import (
\t"fmt"
\t"time"
)

func main() { fmt.Println("ready"); time.Sleep(time.Minute) }
"""


def test_signals_reach_the_real_go_because_the_shim_execs(installed_home: dict[str, str], tmp_path: Path) -> None:
    app = project(tmp_path / "sleeper", **{"go.mod": "module sleeper\n\ngo 1.21\n", "main.go": SLEEPER})
    env = shim_env(installed_home, GOCACHE=str(tmp_path / "cache"))
    child = subprocess.Popen(["go", "run", "."], cwd=app, env=env, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    ready, _, _ = select.select([child.stdout], [], [], 120)  # a readline that cannot hang the suite
    assert ready, "the program printed nothing within 120 s"
    assert child.stdout.readline() == "ready\n"
    assert Path(f"/proc/{child.pid}/exe").resolve() == Path(
        f"{installed_home['GXC_HOME']}/toolchains/go{OLD}/bin/go").resolve()
    child.send_signal(signal.SIGTERM)
    assert child.wait(timeout=30) == -signal.SIGTERM


def test_pin_keeps_comments_and_other_keys(own_home: dict[str, str], tmp_path: Path) -> None:
    app = project(tmp_path / "app", **{"toolchains.toml": (
        "# Toolchain for the firmware build.\n"
        "[toolchain]\n"
        'go = "1.21.13"  # bumped for the CVE fix\n'
        'targets = ["wasm"]\n'
        "\n"
        "# Applied to every go command\n"
        "[env]\n"
        'GOFLAGS = "-mod=mod"\n')})
    assert gxc(own_home, "pin", NEW, "-t", "riscv64-linux", cwd=app).stdout == (
        f"pinned go {NEW} with targets riscv64-linux in {app}/toolchains.toml\n")
    assert (app / "toolchains.toml").read_text() == (
        "# Toolchain for the firmware build.\n"
        "[toolchain]\n"
        f'go = "{NEW}"  # bumped for the CVE fix\n'
        'targets = ["wasm", "riscv64-linux"]\n'
        "\n"
        "# Applied to every go command\n"
        "[env]\n"
        'GOFLAGS = "-mod=mod"\n')
    assert go(dict(own_home, GXC_TRUSTED_PATHS=str(app)), app, "env", "GOFLAGS").stdout == "-mod=mod\n"


@pytest.mark.parametrize(("name", "text", "message"), [
    ("toolchains.toml", '[toolchain]\ngo = "1.21.13\n', "toolchains.toml:2:14: Illegal character '\\n'"),
    ("toolchains.toml", '[toolchain]\ngo = "1.21.13"\ncompiler = "gc"\n',
     "toolchains.toml:3:1: unknown key \"compiler\" in [toolchain] (known: go, targets)"),
    ("toolchains.toml", '[toolchan]\ngo = "1.21.13"\n',
     "toolchains.toml:1:1: unknown key \"toolchan\" (known: toolchain, env, source, lock, platforms, flavors)"),
    ("toolchains.toml", '[toolchain]\ngo = "1.21.x3"\n', "toolchains.toml:2:1: \"1.21.x3\" is not a Go version (try \"1.22.10\" or \"1.22\")"),
    ("toolchains.toml", '[toolchain]\ngo = 1.20\n',
     "toolchains.toml:2:1: go = 1.20 is a number; a Go version must be a quoted string (go = \"1.20\")"),
    (".go-version", "\n  go1.2x\n", ".go-version:2:3: \"go1.2x\" is not a Go version"),
    (".tool-versions", "python 3.12.1\ngolang\n", ".tool-versions:2:7: golang needs a version"),
    ("go.mod", "module x\n\ngo one.two\n", "go.mod:3:4: \"one.two\" is not a Go version"),
])
def test_bad_pin_files_name_path_line_and_column(installed_home: dict[str, str], tmp_path: Path,
                                                 name: str, text: str, message: str) -> None:
    app = project(tmp_path / "app", **{name: text})
    for proc in (gxc(installed_home, "current", cwd=app, check=False), go(installed_home, app, "version", check=False)):
        assert proc.returncode == 2
        assert proc.stderr == f"gxc: error: {app}/{message} (hint: fix the pin file and try again)\n"


def test_install_without_spec_installs_the_project_pin(gxc_env: dict[str, str], tmp_path: Path) -> None:
    app = project(tmp_path / "app", **{"go.mod": f"module app\n\ngo 1.21\n\ntoolchain go{OLD}\n"})
    assert gxc(gxc_env, "install", cwd=app).stdout == f"go{OLD} installed in {gxc_env['GXC_HOME']}/toolchains/go{OLD}\n"
    mod_only = project(tmp_path / "m", **{"go.mod": "module m\n\ngo 1.22\n"})
    assert gxc(gxc_env, "install", cwd=mod_only).stdout == (
        f"go{NEW} installed in {gxc_env['GXC_HOME']}/toolchains/go{NEW}\n")
    ports = ["aarch64-linux-gnu", "armv6-linux", "armv7-linux", "armv7a-none-eabi", "mipsel-softfloat",
             "riscv64-linux-gnu", "riscv64-linux", "riscv64-unknown-elf", "wasip1", "wasm", "x86_64-unknown-none"]
    assert sorted(os.listdir(Path(gxc_env["GXC_HOME"]) / "shims")) == sorted(
        [".gxc-shim", ".gxc-shim.py", "go", "gofmt", *(f"{p}-go" for p in ports)])
    assert go(gxc_env, app, "version").stdout == f"go version go{OLD} linux/amd64\n"


def test_auto_install_installs_on_first_use(gxc_env: dict[str, str], tmp_path: Path) -> None:
    gxc(gxc_env, "install", OLD)
    config = Path(gxc_env["GXC_HOME"]) / "config" / "config.toml"
    config.parent.mkdir(parents=True)
    app = project(tmp_path / "app", **{"toolchains.toml": f'[toolchain]\ngo = "{NEW}"\n'})
    proc = go(gxc_env, app, "version", check=False)
    assert proc.stderr == (f"gxc: error: go{NEW} is not installed (pinned by {app}/toolchains.toml) "
                           f"(hint: run `gxc install {NEW}`)\n")
    config.write_text("auto_install = true\n")
    proc = go(gxc_env, app, "version")
    assert proc.stdout == f"go version go{NEW} linux/amd64\n"
    assert proc.stderr == f"gxc: auto-installing go {NEW} (pinned by {app}/toolchains.toml)\n"


def test_use_sets_the_default_and_uninstall_refreshes_shims(own_home: dict[str, str], tmp_path: Path) -> None:
    assert gxc(own_home, "use", "1.22").stdout == f"default set to go 1.22 (now go{NEW})\n"
    assert gxc(own_home, "current", cwd=tmp_path).stdout == f"go{NEW} (default)\n"
    proc = gxc(own_home, "use", "1.19", check=False)
    assert (proc.returncode, proc.stderr) == (1, "gxc: error: go1.19 is not installed (hint: run `gxc install 1.19`)\n")
    for version in (OLD, NEW, NEWEST):
        gxc(own_home, "uninstall", version)
    shims = Path(own_home["GXC_HOME"]) / "shims"
    assert {"go", "gofmt", "wasip1-go"} <= set(os.listdir(shims))  # `go` stays, to say that nothing is installed
    assert (shims / "go").is_symlink()


def test_exec_env_and_which_use_the_managed_environment(installed_home: dict[str, str], tmp_path: Path) -> None:
    home = installed_home["GXC_HOME"]
    proc = gxc(installed_home, "exec", "-T", NEW, "--", "sh", "-c", 'echo "$GOROOT $GOTOOLCHAIN $GOPATH"; go version')
    assert proc.stdout == f"{home}/toolchains/go{NEW} local {home}/work/go{NEW}/gopath\ngo version go{NEW} linux/amd64\n"
    proc = gxc(installed_home, "which", "compile", "-T", NEW)
    assert proc.stdout == f"{home}/toolchains/go{NEW}/pkg/tool/linux_amd64/compile\n"
    assert proc.stderr == ""  # only the path, as rustup which and mise which print it
    env_json = gxc(installed_home, "env", "--shell", "json", cwd=tmp_path).stdout
    import json

    data = json.loads(env_json)
    assert {k: data[k] for k in ("GOROOT", "GOTOOLCHAIN", "GOBIN")} == {
        "GOROOT": f"{home}/toolchains/go{OLD}", "GOTOOLCHAIN": "local", "GOBIN": f"{home}/bin"}
    assert "GOENV" not in data  # the user's own go env file applies (isolate_goenv = true changes that)
    assert data["PATH"].startswith(f"{home}/toolchains/go{OLD}/bin:{home}/bin:")
    bash = subprocess.run(["bash", "-c", 'eval "$(python3 -m gxc env)"; echo "$GOROOT"; go version'],
                          env=dict(installed_home, PATH=f"{Path(sys.executable).parent}:{installed_home['PATH']}"),
                          cwd=tmp_path, capture_output=True, text=True, check=True)
    assert bash.stdout == f"{home}/toolchains/go{OLD}\ngo version go{OLD} linux/amd64\n"


def test_init_puts_shims_first_on_path(installed_home: dict[str, str], tmp_path: Path) -> None:
    home = installed_home["GXC_HOME"]
    completion = gxc(installed_home, "completion", "bash").stdout  # tests/cli/test_discoverability.py runs it
    assert gxc(installed_home, "init", "bash").stdout == (
        f"export GXC_HOME='{home}';\nexport PATH='{home}/shims':'{home}/bin'\":$PATH\";\n{completion}")
    script = f'eval "$({sys.executable} -m gxc init bash)"; command -v go; go version'
    proc = subprocess.run(["bash", "-c", script], env=installed_home, cwd=tmp_path, capture_output=True, text=True, check=True)
    assert proc.stdout == f"{home}/shims/go\ngo version go{OLD} linux/amd64\n"


def test_activate_puts_the_resolved_toolchain_on_path_and_follows_directory_changes(
        installed_home: dict[str, str], tmp_path: Path) -> None:
    home = installed_home["GXC_HOME"]
    a = project(tmp_path / "a", **{"toolchains.toml": f'[toolchain]\ngo = "{NEW}"\n'})
    b = project(tmp_path / "b", **{".go-version": f"{NEWEST}\n"})
    script = (f'eval "$({sys.executable} -m gxc init bash --activate)"\n'
              f'cd {a}; _gxc_hook; command -v go; go version\n'
              f'cd {b}; _gxc_hook; command -v go\n'
              f'sleep 0.01; echo {OLD} > .go-version; _gxc_hook; go version; echo "$GOROOT"\n')
    env = dict(installed_home, XDG_RUNTIME_DIR=str(tmp_path))  # the hook's stamp dir, not the shared home
    proc = subprocess.run(["bash", "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True, check=True)
    assert proc.stdout == (f"{home}/toolchains/go{NEW}/bin/go\ngo version go{NEW} linux/amd64\n"
                           f"{home}/toolchains/go{NEWEST}/bin/go\n"
                           f"go version go{OLD} linux/amd64\n{home}/toolchains/go{OLD}\n")


def test_shim_loop_guard_stops_runaway_recursion(installed_home: dict[str, str], tmp_path: Path) -> None:
    proc = go(installed_home, tmp_path, "version", check=False, GXC_SHIM_DEPTH="8")
    assert (proc.returncode, proc.stderr) == (1, "gxc: error: shim loop: `go` keeps finding a gxc shim (check PATH)\n")


def test_shim_imports_only_light_modules(installed_home: dict[str, str], tmp_path: Path) -> None:
    """Not a benchmark (scripts/bench-shim is): a guard that the shim never imports requests or tomllib."""
    app = project(tmp_path / "app", **{"toolchains.toml": f'[toolchain]\ngo = "{OLD}"\n'})
    launcher = Path(installed_home["GXC_HOME"]) / "shims" / ".gxc-shim.py"
    interpreter = launcher.read_text().splitlines()[0][2:].split()[0]
    code = ("import sys, runpy; sys.argv = [sys.argv[1], 'version']\n"
            "import os; os.execve = lambda *a: (print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('requests', 'tomllib', 'tomlkit', 'typing', 're', 'json', 'dataclasses', 'gxc'))), sys.exit(0))\n"
            f"sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})\n"
            "from gxc.shim import main; main()\n")
    proc = subprocess.run([interpreter, "-I", "-S", "-c", code, f"{installed_home['GXC_HOME']}/shims/go"],
                          cwd=app, env=installed_home, capture_output=True, text=True, check=True)
    assert proc.stdout == ("['gxc', 'gxc.ground', 'gxc.ground.errors', 'gxc.ground.fasttoml', 'gxc.ground.launch', "
                           "'gxc.ground.observe', 'gxc.ground.paths', 'gxc.ground.settings', 'gxc.ground.tomlfile', 'gxc.ground.versions', "
                           "'gxc.project', 'gxc.project.pins', 'gxc.project.resolve', 'gxc.shim', 'gxc.toolchains', "
                           "'gxc.toolchains.native', 'gxc.toolchains.workdir']\n")


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_init_and_activate_work_in_zsh_and_fish(installed_home: dict[str, str], tmp_path: Path, shell: str) -> None:
    if not shutil.which(shell):
        pytest.fail(f"{shell} is missing: scripts/install-system-deps installs it")
    home = installed_home["GXC_HOME"]
    a = project(tmp_path / "a", **{".go-version": f"{NEW}\n"})
    b = project(tmp_path / "b", **{".go-version": f"{NEWEST}\n"})
    gxc_cmd = f"{sys.executable} -m gxc"
    if shell == "zsh":
        shims = f'eval "$({gxc_cmd} init zsh)"; command -v go'
        activate = (f'eval "$({gxc_cmd} init zsh --activate)"; cd {a}; _gxc_hook; command -v go; '
                    f'cd {b}; _gxc_hook; go version')
    else:
        shims = f"{gxc_cmd} init fish | source; command -v go"
        activate = f"{gxc_cmd} init fish --activate | source; cd {a}; command -v go; cd {b}; go version"
    env = dict(installed_home, XDG_RUNTIME_DIR=str(tmp_path))  # the hook's stamp dir, not the shared home
    run = [subprocess.run([shell, "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True,
                          check=True).stdout for script in (shims, activate)]
    assert run == [f"{home}/shims/go\n",
                   f"{home}/toolchains/go{NEW}/bin/go\ngo version go{NEWEST} linux/amd64\n"]


def test_gofmt_shim_runs_the_pinned_toolchains_gofmt(installed_home: dict[str, str], tmp_path: Path) -> None:
    app = project(tmp_path / "app", **{"toolchains.toml": f'[toolchain]\ngo = "{NEW}"\n',
                                      "messy.go": "package main\nfunc  main( ) {}\n"})
    env = shim_env(installed_home)
    proc = subprocess.run(["gofmt", "-d", "messy.go"], cwd=app, env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0
    assert "+func main() {}" in proc.stdout
    which = gxc(installed_home, "which", "gofmt", cwd=app)
    assert which.stdout == f"{installed_home['GXC_HOME']}/toolchains/go{NEW}/bin/gofmt\n"


def test_bare_gxc_and_help_print_usage_and_a_typo_names_the_nearest_verb(installed_home: dict[str, str]) -> None:
    bare = gxc(installed_home)
    assert bare.stdout.startswith("usage: gxc") and "common commands: install, list, pin" in bare.stdout
    assert gxc(installed_home, "help", "pin").stdout.startswith("usage: gxc pin")
    typo = gxc(installed_home, "instal", "1.22", check=False)
    assert (typo.returncode, typo.stderr) == (2, 'gxc: error: unknown command "instal" (hint: did you mean install? '
                                                 "`gxc help` lists the commands)\n")
    gone = gxc(installed_home, "uninstall", "1.19.1", check=False)
    assert (gone.returncode, gone.stderr) == (1, "gxc: error: go1.19.1 is not installed (hint: nothing to uninstall; "
                                                 "`gxc list` shows what is installed)\n")


def test_an_empty_project_file_says_the_default_applies(installed_home: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "toolchains.toml").write_text("")
    out = gxc(installed_home, "current", cwd=tmp_path).stdout.splitlines()
    assert out[0].startswith(f"go{OLD} (default)")
    assert f"  note: {tmp_path / 'toolchains.toml'} pins no version, so the default applies (`gxc pin SPEC` pins " \
           "one)" in out


def test_pinning_a_version_that_is_not_installed_says_so(gxc_env: dict[str, str], tmp_path: Path) -> None:
    done = gxc(gxc_env, "pin", NEW, cwd=tmp_path)
    assert done.stderr == f"gxc: note: no installed toolchain matches go {NEW}; `gxc install` in this directory " \
                          "installs it\n"
