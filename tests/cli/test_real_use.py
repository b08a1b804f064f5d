"""Regressions for the bugs real projects hit (issue 8), each through the CLI with real toolchains."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import NEW, NEWEST, OLD, gxc
from tests.helpers import write_hello_module
from tests.mirror_server import Fault, MirrorServer

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def shim_go(env: dict[str, str], cwd: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    run_env = dict(env, PATH=f"{env['GXC_HOME']}/shims:{env['PATH']}")
    run_env.update(extra)
    return subprocess.run(["go", *args], cwd=cwd, env=run_env, capture_output=True, text=True, timeout=300,
                          check=False)


def module(root: Path, files: dict[str, str], go_line: str = "1.21") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "go.mod").write_text(f"module example.com/m\n\ngo {go_line}\n")
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text))
    return root


MAIN = 'package main\n\nfunc main() { println("%s") }\n'


def test_build_refuses_two_mains_that_would_overwrite_each_other(installed_home: dict[str, str],
                                                                 tmp_path: Path) -> None:
    app = module(tmp_path / "app", {"cmd/a/main.go": MAIN % "cmd", "tools/a/main.go": MAIN % "tools"})
    proc = gxc(installed_home, "build", "-t", "linux/riscv64", "./...", cwd=app, check=False)
    assert proc.returncode == 1
    assert proc.stderr == ("linux/riscv64: port linux/riscv64: example.com/m/cmd/a and example.com/m/tools/a would "
                           "both be built as a\ngxc: error: build failed for linux/riscv64 "
                           f"(go{OLD}) (hint: see the compiler output above)\n")
    assert not (app / "dist" / "linux-riscv64" / "a").exists()


def test_build_lists_main_packages_per_port(installed_home: dict[str, str], tmp_path: Path) -> None:
    app = module(tmp_path / "app", {
        "linuxonly/main.go": "//go:build linux\n\n" + MAIN % "linux",
        "linuxonly/doc.go": "package linuxonly\n",
        "wasionly/main.go": "//go:build wasip1\n\n" + MAIN % "wasi",
        "wasionly/doc.go": "package wasionly\n",
    })
    # each directory is package main for one GOOS and a library for the other
    (app / "linuxonly" / "doc.go").write_text("//go:build !linux\n\npackage linuxonly\n")
    (app / "wasionly" / "doc.go").write_text("//go:build !wasip1\n\npackage wasionly\n")
    out = gxc(installed_home, "build", "-t", "linux/riscv64", "-t", "wasip1", "./...", cwd=app).stdout
    assert sorted(out.splitlines()) == ["linux/riscv64: dist/linux-riscv64/linuxonly", "wasip1: dist/wasip1/wasionly.wasm"]


def test_go_work_go_line_is_a_minimum_inside_its_modules(installed_home: dict[str, str], tmp_path: Path) -> None:
    work = tmp_path / "ws"
    mod = module(work / "mod", {"main.go": MAIN % "x"}, go_line="1.21")
    (work / "go.work").write_text("go 1.24\n\nuse ./mod\n")
    current = gxc(installed_home, "current", cwd=mod).stdout
    assert current == f"go{NEWEST} (newest installed for go 1.24 in {work}/go.work; the default go{OLD} is older)\n"
    assert shim_go(installed_home, mod, "version").stdout == f"go version go{NEWEST} linux/amd64\n"


def test_minimum_above_the_default_picks_the_newest_installed(installed_home: dict[str, str], tmp_path: Path) -> None:
    app = module(tmp_path / "app", {"main.go": MAIN % "x"}, go_line="1.22")
    assert gxc(installed_home, "current", cwd=app).stdout == (
        f"go{NEWEST} (newest installed for go 1.22 in {app}/go.mod; the default go{OLD} is older)\n")


@pytest.mark.parametrize(("text", "message"), [
    ('auto_install = "false"\n', "1:1: auto_install must be true or false, not a string"),
    ("auto_instal = true\n", "1:1: unknown key auto_instal; did you mean auto_install?"),
    ("[limits]\nmax_bytes = -1\n", "2:1: limits.max_bytes must be greater than 0"),
    ("[limits]\nmax_members = true\n", "2:1: limits.max_members must be a whole number, not a boolean"),
    ("[source]\nmirorr = 'x'\n", "2:1: unknown key source.mirorr; did you mean mirror?"),
    ("trusted_paths = 'x'\n", "1:1: trusted_paths must be a list of strings, not a string"),
    ("auto_install = \n", "1:16: Invalid value"),
])
def test_config_toml_is_validated_with_line_and_column(installed_home: dict[str, str], tmp_path: Path, text: str,
                                                       message: str) -> None:
    path = tmp_path / "config" / "gxc" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_text(text)
    env = dict(installed_home, XDG_CONFIG_HOME=str(tmp_path / "config"))
    proc = gxc(env, "install", NEW, cwd=tmp_path, check=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"gxc: error: {path}:{message} (hint: fix {path} ")
    assert len(proc.stderr.splitlines()) == 1


def test_uninstall_warns_about_the_default_and_tracked_pins(own_home: dict[str, str], tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    gxc(own_home, "pin", NEW, cwd=app)
    proc = gxc(own_home, "uninstall", NEW, OLD, cwd=tmp_path)
    assert proc.stderr == (f"gxc: warning: {app}/toolchains.toml pins go {NEW}: it will need `gxc install {NEW}`\n"
                           f"gxc: warning: go{OLD} is the default; no default is left (set one with `gxc use`)\n")


def test_the_go_shim_stays_when_the_last_toolchain_goes(own_home: dict[str, str], tmp_path: Path) -> None:
    gxc(own_home, "uninstall", OLD, NEW, NEWEST, cwd=tmp_path)
    assert (Path(own_home["GXC_HOME"]) / "shims" / "go").is_symlink()
    proc = shim_go(own_home, tmp_path, "version")
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        1, "", "gxc: error: no Go toolchain is installed (hint: install one with `gxc install latest`)\n")


def test_fresh_home_with_auto_install_has_the_go_shim_from_the_start(gxc_env: dict[str, str], tmp_path: Path) -> None:
    config = Path(gxc_env["GXC_HOME"]) / "config"
    config.mkdir(parents=True)
    (config / "config.toml").write_text("auto_install = true\n")
    script = f'eval "$({sys.executable} -m gxc init bash)"; command -v go; go version'
    app = tmp_path / "app"
    app.mkdir()
    (app / ".go-version").write_text(f"{OLD}\n")
    proc = subprocess.run(["bash", "-c", script], cwd=app, env=gxc_env, capture_output=True, text=True, check=False)
    assert proc.stdout == f"{gxc_env['GXC_HOME']}/shims/go\ngo version go{OLD} linux/amd64\n", proc.stderr


def test_installed_toolchains_are_world_readable_and_verify_notices_modes(own_home: dict[str, str],
                                                                          tmp_path: Path) -> None:
    gxc(own_home, "install", "--force", NEW, cwd=tmp_path)  # directories of its own; files link the store's objects
    root = Path(own_home["GXC_HOME"]) / "toolchains" / f"go{NEW}"
    assert oct(root.stat().st_mode & 0o777) == "0o755"
    assert oct((root / "bin" / "go").stat().st_mode & 0o777) == "0o555"  # read-only: the inode is shared
    assert oct((root / "VERSION").stat().st_mode & 0o777) == "0o444"
    assert gxc(own_home, "verify", NEW, cwd=tmp_path).stdout == f"go{NEW}: ok\n"
    (root / "src").chmod(0o700)
    proc = gxc(own_home, "verify", NEW, cwd=tmp_path, check=False)
    assert (proc.returncode, proc.stdout) == (1, f"go{NEW}: drifted\n  mode     src: 755 -> 700\n")


def pinned_dirs(root: Path) -> tuple[Path, Path]:
    """Two directories whose .go-version pins the old and the new toolchain."""
    dirs = (root / "old", root / "new")
    for app, version in zip(dirs, (OLD, NEW), strict=True):
        app.mkdir()
        (app / ".go-version").write_text(f"{version}\n")
    return dirs


def test_user_go_settings_apply_under_every_version(own_home: dict[str, str], tmp_path: Path) -> None:
    app_old, app_new = pinned_dirs(tmp_path)
    assert shim_go(own_home, app_old, "env", "-w", "GOPRIVATE=example.com/private").returncode == 0
    assert shim_go(own_home, app_new, "env", "GOPRIVATE").stdout == "example.com/private\n"
    mine = tmp_path / "mygopath"
    assert shim_go(own_home, app_new, "env", "GOPATH", GOPATH=str(mine)).stdout == f"{mine}\n"
    tool = write_hello_module(tmp_path / "tool")
    (tool / ".go-version").write_text(f"{OLD}\n")
    assert shim_go(own_home, tool, "install", ".").returncode == 0
    installed = Path(own_home["GXC_HOME"]) / "bin" / "hello"
    assert installed.is_file()
    (tool / ".go-version").write_text(f"{NEW}\n")  # after a switch, the tool is still on PATH
    script = f'eval "$({sys.executable} -m gxc init bash)"; command -v hello'
    proc = subprocess.run(["bash", "-c", script], cwd=tool, env=own_home, capture_output=True, text=True, check=True)
    assert proc.stdout == f"{installed}\n"
    doctor = json.loads(gxc(own_home, "doctor", "--json", cwd=tmp_path, check=False).stdout)
    assert doctor["locations"]["GOBIN"] == str(Path(own_home["GXC_HOME"]) / "bin")
    assert doctor["locations"]["GOENV"].endswith("/go/env (yours, under every version)")


def test_isolate_goenv_gives_each_version_its_own_settings(own_home: dict[str, str], tmp_path: Path) -> None:
    config = Path(own_home["GXC_HOME"]) / "config"
    config.mkdir(parents=True)
    (config / "config.toml").write_text("isolate_goenv = true\n")
    app_old, app_new = pinned_dirs(tmp_path)
    assert shim_go(own_home, app_old, "env", "-w", "GOPRIVATE=example.com/old").returncode == 0
    assert shim_go(own_home, app_new, "env", "GOPRIVATE").stdout == "\n"
    assert shim_go(own_home, app_old, "env", "GOPRIVATE").stdout == "example.com/old\n"


def test_a_bad_partial_from_an_earlier_transfer_is_restarted_once(gxc_env: dict[str, str], mirror: MirrorServer,
                                                                  tmp_path: Path) -> None:
    name = f"go{OLD}.linux-amd64.tar.gz"
    real = mirror.state.body(name) or b""
    mirror.state.overrides[name] = bytes([real[0] ^ 0xFF]) + real[1:]  # a bad mirror day: the first bytes are wrong
    mirror.state.add_fault(name, Fault("drop_after", after=1 << 20), times=5)
    failed = gxc(gxc_env, "install", OLD, cwd=tmp_path, check=False)
    assert failed.returncode == 1
    partials = list((Path(gxc_env["GXC_HOME"]) / "cache" / "downloads").glob("*.partial"))
    assert len(partials) == 1
    assert partials[0].stat().st_size >= 1 << 20
    del mirror.state.overrides[name]
    mirror.state.log.clear()
    gxc(gxc_env, "install", OLD, cwd=tmp_path)
    ranges = [r.range for r in mirror.state.requests_for(name)]
    assert ranges[0] is not None and ranges[0].startswith("bytes=")  # it resumed first...
    assert ranges[1:] == [None]  # ...then, once the sha256 disagreed, started again from zero
    assert gxc(gxc_env, "verify", OLD, cwd=tmp_path).stdout == f"go{OLD}: ok\n"


def test_a_partial_never_resumes_from_another_source(gxc_env: dict[str, str], mirror: MirrorServer,
                                                     mirror_dir: Path, tmp_path: Path) -> None:
    name = f"go{OLD}.linux-amd64.tar.gz"
    mirror.state.add_fault(name, Fault("drop_after", after=1 << 20), times=5)
    assert gxc(gxc_env, "install", OLD, cwd=tmp_path, check=False).returncode == 1
    other = MirrorServer(mirror_dir).start()
    try:
        gxc(gxc_env, "install", OLD, "--mirror", other.url, cwd=tmp_path)
        assert [r.range for r in other.state.requests_for(name)] == [None]
    finally:
        other.stop()


def test_a_stalled_server_is_reported_as_a_timeout(gxc_env: dict[str, str], mirror: MirrorServer,
                                                   tmp_path: Path) -> None:
    name = f"go{OLD}.linux-amd64.tar.gz"
    mirror.state.add_fault(name, Fault("stall", after=1 << 16, seconds=4), times=5)
    proc = gxc(dict(gxc_env, GXC_HTTP_TIMEOUT="1"), "install", OLD, cwd=tmp_path, check=False)
    assert proc.returncode == 1
    assert proc.stderr.startswith(f"gxc: error: could not fetch {mirror.url}/{name}: timed out (the server stalled) "
                                  "(gave up after 5 attempts)")


def test_pin_refuses_unknown_versions_and_ports_unless_forced(own_home: dict[str, str], tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    proc = gxc(own_home, "pin", "1.19.3", cwd=app, check=False)
    assert (proc.returncode, proc.stderr) == (1, 'gxc: error: no Go release matches "1.19.3" (hint: run `gxc '
                                                 "list-remote --all` to see what the index offers)\n")
    proc = gxc(own_home, "pin", NEW, "-t", "riscv64-linuxx", cwd=app, check=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith('gxc: error: unknown port "riscv64-linuxx" (hint: did you mean riscv64-linux')
    assert not (app / "toolchains.toml").exists()
    forced = gxc(own_home, "pin", "1.19.3", "--force", cwd=app)
    assert forced.stderr == ('gxc: warning: no Go release matches "1.19.3" (pinned anyway: --force)\n'
                             "gxc: note: nothing can install go 1.19.3 until your index lists it "
                             "(`gxc list-remote --all` shows what it has)\n")
    assert (app / "toolchains.toml").read_text() == '[toolchain]\ngo = "1.19.3"\n'


def test_repinning_drops_a_stale_lock(own_home: dict[str, str], tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    gxc(own_home, "pin", "--lock", OLD, cwd=app)
    assert f"go{OLD}.linux-amd64.tar.gz" in (app / "toolchains.toml").read_text()
    gxc(own_home, "pin", NEW, cwd=app)
    assert (app / "toolchains.toml").read_text() == f'[toolchain]\ngo = "{NEW}"\n'


@pytest.mark.parametrize(("name", "text"), [
    ("toolchains.toml", f'[toolchain]\ngo = "{NEW}"\n'), (".go-version", f"{NEW}\n"),
    (".tool-versions", f"golang {NEW}\n"), ("go.mod", f"module m\n\ngo 1.21\n\ntoolchain go{NEW}\n"),
    ("go.work", f"go 1.21\n\ntoolchain go{NEW}\n"),
])
def test_every_pin_file_accepts_a_byte_order_mark(installed_home: dict[str, str], tmp_path: Path, name: str,
                                                  text: str) -> None:
    (tmp_path / name).write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert gxc(installed_home, "current", cwd=tmp_path).stdout.startswith(f"go{NEW} ")


def test_custom_toolchain_name_in_go_mod_resolves_with_a_note(installed_home: dict[str, str], tmp_path: Path) -> None:
    module(tmp_path / "app", {"main.go": MAIN % "x"})
    (tmp_path / "app" / "go.mod").write_text(f"module m\n\ngo 1.21\n\ntoolchain go{NEW}-corp.1\n")
    assert gxc(installed_home, "current", cwd=tmp_path / "app").stdout == (
        f"go{NEW} (go.mod toolchain line in {tmp_path}/app/go.mod)\n"
        f"  note: {tmp_path}/app/go.mod: toolchain go{NEW}-corp.1 is a custom toolchain name; gxc uses go{NEW}\n")


def test_tool_versions_takes_the_first_installed_and_system(installed_home: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / ".tool-versions").write_text(f"nodejs 20.0.0\ngolang 1.99.0 {NEW} {OLD}\n")
    assert shim_go(installed_home, tmp_path, "version").stdout == f"go version go{NEW} linux/amd64\n"
    fake = tmp_path / "sysbin"
    fake.mkdir()
    (fake / "go").write_text("#!/bin/sh\necho system go \"$@\"\n")
    (fake / "go").chmod(0o755)
    (tmp_path / ".tool-versions").write_text("golang system\n")
    proc = shim_go(installed_home, tmp_path, "version", PATH=f"{installed_home['GXC_HOME']}/shims:{fake}:/usr/bin:/bin")
    assert (proc.returncode, proc.stdout) == (0, "system go version\n")


def test_go_dash_c_resolves_in_that_directory(installed_home: dict[str, str], tmp_path: Path) -> None:
    app = write_hello_module(tmp_path / "app")
    (app / ".go-version").write_text(f"{NEWEST}\n")
    proc = shim_go(installed_home, tmp_path, "-C", str(app), "run", ".")
    assert proc.stdout == f"hello from go{NEWEST} linux/amd64\n"


def test_prune_keeps_versions_pinned_by_any_pin_file_of_a_tracked_project(own_home: dict[str, str],
                                                                          tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    gxc(own_home, "pin", NEWEST, cwd=app)
    (app / ".go-version").write_text(f"{NEW}\n")
    out = gxc(own_home, "prune", cwd=tmp_path).stdout.splitlines()
    assert f"keep   go{NEW} (pinned by {app}/.go-version)" in out
    assert f"keep   go{NEWEST} (pinned by {app}/toolchains.toml)" in out


def test_toolchain_line_newer_than_the_pin_is_reported(installed_home: dict[str, str], tmp_path: Path) -> None:
    app = module(tmp_path / "app", {"main.go": MAIN % "x"})
    (app / "go.mod").write_text(f"module m\n\ngo 1.21\n\ntoolchain go{NEWEST}\n")
    (app / ".go-version").write_text(f"{NEW}\n")  # read first in the same directory: it pins
    current = gxc(installed_home, "current", cwd=app).stdout
    message = (f"{app}/go.mod asks for toolchain go{NEWEST}, newer than go{NEW} (pinned by {app}/.go-version); "
               "Go would switch to it, gxc keeps the pin")
    assert current == f"go{NEW} (pinned by {app}/.go-version)\n  note: {message}\n"
    doctor = json.loads(gxc(installed_home, "doctor", "--json", cwd=app, check=False).stdout)
    assert message in [p["message"] for p in doctor["problems"]]


@pytest.mark.emulator
def test_wasip1_go_test_of_a_large_test_binary_exits_cleanly(installed_home: dict[str, str], tmp_path: Path) -> None:
    app = module(tmp_path / "big", {
        "big.go": """
            package big

            import (
            \t"crypto/tls"
            \t"encoding/json"
            \t"encoding/xml"
            \t"net/http"
            \t"text/template"
            )

            func Sizes() int {
            \tb, _ := json.Marshal(map[string]int{"a": 1})
            \tx, _ := xml.Marshal(struct{ A int }{1})
            \t_ = template.Must(template.New("t").Parse("{{.}}"))
            \t_ = &http.Client{}
            \t_ = tls.Config{}
            \treturn len(b) + len(x)
            }
            """,
        "big_test.go": """
            package big

            import "testing"

            func TestSizes(t *testing.T) {
            \tif Sizes() == 0 {
            \t\tt.Fatal("empty")
            \t}
            }

            func TestOther(t *testing.T) { t.Log("other") }
            """,
    }, go_line="1.21")
    proc = subprocess.run([sys.executable, "-m", "gxc", "test", "-t", "wasip1", "-T", NEWEST, "-run", "TestSizes",
                           "-v", "."], cwd=app, env=installed_home, capture_output=True, text=True, timeout=600,
                          check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "--- PASS: TestSizes" in proc.stdout
    assert "TestOther" not in proc.stdout  # -run reached go test


def test_run_and_test_help_say_where_program_arguments_go(installed_home: dict[str, str]) -> None:
    run_help = gxc(installed_home, "run", "--help").stdout
    test_help = gxc(installed_home, "test", "--help").stdout
    assert "usage: gxc run -t PORT [-T V] [PACKAGE] [-- PROGRAM ARGS...]" in run_help
    assert "Arguments after -- go to the program" in run_help
    assert "go test flags such as -run X or -v pass through" in " ".join(test_help.split())


def test_output_edge_cases_are_one_clear_line(installed_home: dict[str, str], tmp_path: Path) -> None:
    bad = gxc(dict(installed_home, GXC_TOOLCHAIN="garbage"), "current", cwd=tmp_path, check=False)
    assert (bad.returncode, bad.stderr) == (2, 'gxc: error: GXC_TOOLCHAIN is "garbage", which is not a Go version '
                                               "(hint: use forms like 1.22.10, go1.22.10, 1.22, 1.22.x, 1.23rc1 or "
                                               "latest)\n")
    host = gxc(installed_home, "pin", "--lock", NEW, "--host", "bogus", cwd=tmp_path, check=False)
    assert (host.returncode, host.stderr) == (2, 'gxc: error: --host "bogus" is not a host (hint: name one as '
                                                 "OS/ARCH, like linux/amd64 or darwin/arm64)\n")
    gone = tmp_path / "gone"
    gone.mkdir()
    script = f"cd {gone} && rmdir {gone} && {sys.executable} -m gxc current"
    proc = subprocess.run(["bash", "-c", script], env=installed_home, capture_output=True, text=True, check=False)
    assert (proc.returncode, proc.stderr) == (1, "gxc: error: the current directory was deleted "
                                                 "(hint: cd to an existing directory)\n")


def test_a_closed_pipe_ends_gxc_quietly(installed_home: dict[str, str], tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "gxc", "list-remote", "--all"], cwd=tmp_path, env=installed_home,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    proc.stdout.close()  # the reader is gone before gxc writes
    _, err = proc.communicate(timeout=60)
    assert err == b""
    assert proc.returncode in (141, -signal.SIGPIPE)


@pytest.mark.parametrize("args", [["list", "--json"], ["list-remote", "--json"], ["current", "--json"],
                                  ["verify", "--json"], ["doctor", "--json"], ["platform", "list", "--json"],
                                  ["cache", "list", "--json"], ["trust", "--show", "--json"]])
def test_every_json_output_is_one_object(installed_home: dict[str, str], tmp_path: Path, args: list[str]) -> None:
    (tmp_path / ".go-version").write_text(f"{NEW}\n")
    proc = gxc(installed_home, *args, cwd=tmp_path, check=False)
    assert isinstance(json.loads(proc.stdout), dict)
