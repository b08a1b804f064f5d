"""Ports with real toolchains, real emulators and node: build, run and test for embedded and wasm targets."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import NEW, NEWEST, OLD, gxc
from tests.helpers import no_process_matches

pytestmark = [pytest.mark.slow, pytest.mark.emulator]

HELLO = """package main

import (
\t"fmt"
\t"os"
\t"runtime"
)

var port = "none"

func main() {
\tfmt.Printf("hello from %s on %s/%s port=%s extra=%s args=%v\\n", runtime.Version(), runtime.GOOS, runtime.GOARCH, port, extra, os.Args[1:])
\tif len(os.Args) > 1 && os.Args[1] == "fail" {
\t\tos.Exit(3)
\t}
}
"""
EXTRA_DEFAULT = '//go:build !board\n\npackage main\n\nconst extra = "plain"\n'
EXTRA_BOARD = '//go:build board\n\npackage main\n\nconst extra = "board-tag"\n'
QEMU_PORTS = {"riscv64-linux": "linux/riscv64", "armv7-linux": "linux/arm",
              "aarch64-linux-gnu": "linux/arm64", "mipsel-softfloat": "linux/mipsle"}


@pytest.fixture
def home(installed_home: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """The shared home with this test's directory trusted: its project files define ports (as a CI checkout would)."""
    return dict(installed_home, GXC_TRUSTED_PATHS=str(tmp_path))


def hello_project(root: Path, go: str = NEW) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "go.mod").write_text("module example.com/hello\n\ngo 1.21\n")
    (root / "main.go").write_text(HELLO)
    (root / "extra.go").write_text(EXTRA_DEFAULT)
    (root / "board.go").write_text(EXTRA_BOARD)
    ports = "".join(
        f'\n[platforms.x-{name}]\ninherits = ["{name}"]\n[platforms.x-{name}.build]\nldflags = ["-X main.port={name}"]\n'
        for name in QEMU_PORTS)
    (root / "toolchains.toml").write_text(f'[toolchain]\ngo = "{go}"\ntargets = ["riscv64-linux", "wasm"]\n{ports}')
    return root


@pytest.mark.parametrize(("port", "pair"), QEMU_PORTS.items())
def test_run_under_qemu_prints_arch_and_the_ports_ldflag_value(home: dict[str, str], tmp_path: Path,
                                                               port: str, pair: str) -> None:
    app = hello_project(tmp_path / "app")
    proc = gxc(home, "run", "-t", f"x-{port}", "--", "one", "two", cwd=app)
    assert proc.stdout == f"hello from go{NEW} on {pair} port={port} extra=plain args=[one two]\n"
    failing = gxc(home, "run", "-t", f"x-{port}", "--", "fail", cwd=app, check=False)
    assert failing.returncode == 3


STAYS_UP = """package main

import (
\t"fmt"
\t"time"
)

func main() {
\tfmt.Println("up, and staying up")
\ttime.Sleep(time.Hour)
}
"""


def test_a_terminated_run_stops_its_emulator_and_says_so(home: dict[str, str], tmp_path: Path) -> None:
    app = hello_project(tmp_path / "forever")
    (app / "main.go").write_text(STAYS_UP)
    for tagged in ("extra.go", "board.go"):
        (app / tagged).unlink()
    proc = subprocess.Popen([sys.executable, "-m", "gxc", "run", "-t", "riscv64-linux", "--timeout", "600"], cwd=app,
                            env=home, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline() == "up, and staying up\n"  # the program runs under qemu-riscv64
    proc.send_signal(signal.SIGTERM)  # as a CI runner cancels a job: gxc only, not its process group
    _, err = proc.communicate(timeout=60)
    assert (proc.returncode, err) == (143, "gxc: terminated\n")
    assert no_process_matches(f"qemu-riscv64.*{app}")  # the emulator went with it


@pytest.mark.parametrize("version", [OLD, NEWEST])
@pytest.mark.parametrize(("port", "pair"), [("wasm", "js/wasm"), ("wasip1", "wasip1/wasm")])
def test_wasm_ports_run_under_node_with_old_and_new_helper_locations(
        home: dict[str, str], tmp_path: Path, version: str, port: str, pair: str) -> None:
    app = hello_project(tmp_path / "app")
    helper = Path(home["GXC_HOME"]) / "toolchains" / f"go{version}" / ("lib" if version == NEWEST else "misc") / "wasm"
    assert (helper / "wasm_exec_node.js").is_file()
    proc = gxc(home, "run", "-T", version, "-t", port, "--", "x", cwd=app)
    assert proc.stdout == f"hello from go{version} on {pair} port=none extra=plain args=[x]\n"
    assert (app / "dist" / port / "hello.wasm").read_bytes()[:4] == b"\0asm"


CGO_MAIN = """package main

/*
int triple(int x) { return 3 * x; }
*/
import "C"

import (
\t"fmt"
\t"runtime"
)

func main() { fmt.Printf("cgo on %s: triple(14) = %d\\n", runtime.GOARCH, int(C.triple(14))) }
"""


def test_cgo_for_riscv64_linux_gnu_builds_and_runs_under_qemu(home: dict[str, str], tmp_path: Path) -> None:
    app = tmp_path / "cgo"
    app.mkdir()
    (app / "go.mod").write_text("module example.com/cgo\n\ngo 1.21\n")
    (app / "main.go").write_text(CGO_MAIN)
    proc = gxc(home, "run", "-T", NEW, "-t", "riscv64-linux-gnu", cwd=app)
    assert proc.stdout == "cgo on riscv64: triple(14) = 42\n"
    assert b"ld-linux-riscv64" in (app / "dist" / "riscv64-linux-gnu" / "cgo").read_bytes()


LIB = 'package calc\n\nfunc Add(a, b int) int { return a + b }\n'
LIB_TEST = """package calc

import (
\t"runtime"
\t"testing"
)

func TestAdd(t *testing.T) {
\tif runtime.GOARCH != "riscv64" {
\t\tt.Fatalf("ran on %s, not under qemu-riscv64", runtime.GOARCH)
\t}
\tif Add(2, 2) != WANT {
\t\tt.Fatalf("Add(2, 2) = %d", Add(2, 2))
\t}
}
"""


def test_go_test_runs_under_qemu_and_failures_fail_the_command(home: dict[str, str], tmp_path: Path) -> None:
    app = tmp_path / "lib"
    (app / "calc").mkdir(parents=True)
    (app / "go.mod").write_text("module example.com/lib\n\ngo 1.21\n")
    (app / "calc" / "calc.go").write_text(LIB)
    (app / "calc" / "calc_test.go").write_text(LIB_TEST.replace("WANT", "4"))
    proc = gxc(home, "test", "-T", NEW, "-t", "riscv64-linux", "./...", "--", "-count=1", cwd=app)
    assert proc.stdout.startswith("ok  \texample.com/lib/calc\t")
    (app / "calc" / "calc_test.go").write_text(LIB_TEST.replace("WANT", "5"))
    proc = gxc(home, "test", "-T", NEW, "-t", "riscv64-linux", "./...", "--", "-count=1", cwd=app,
               check=False)
    assert proc.returncode == 1
    assert "Add(2, 2) = 4" in proc.stdout
    assert proc.stderr == "gxc: go test for riscv64-linux exited 1\n"


ELF_MACHINES = {"riscv64-linux": (243, 2), "armv7-linux": (40, 1), "aarch64-linux-gnu": (183, 2),
                "mipsel-softfloat": (8, 1)}


def elf_machine(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:20]
    assert head[:4] == b"\x7fELF"
    return int.from_bytes(head[18:20], "little"), head[4]  # e_machine, EI_CLASS (1: 32-bit, 2: 64-bit)


def test_build_four_ports_in_one_call_and_check_reproducible(home: dict[str, str], tmp_path: Path) -> None:
    app = hello_project(tmp_path / "app")
    args = [a for port in ELF_MACHINES for a in ("-t", port)]
    proc = gxc(home, "build", *args, cwd=app)
    assert proc.stdout == "".join(f"{port}: dist/{port}/hello\n" for port in ELF_MACHINES)
    for port, machine in ELF_MACHINES.items():
        assert elf_machine(app / "dist" / port / "hello") == machine
    if shutil.which("file"):
        described = subprocess.run(["file", "-b", app / "dist" / "riscv64-linux" / "hello"],
                                   capture_output=True, text=True, check=True).stdout
        assert "RISC-V" in described and "statically linked" in described
    proc = gxc(home, "build", "--check-reproducible", "-t", "riscv64-linux", cwd=app)
    digest = hashlib.sha256((app / "dist" / "riscv64-linux" / "hello").read_bytes()).hexdigest()
    assert proc.stdout == (f"riscv64-linux: dist/riscv64-linux/hello\n"
                           f"riscv64-linux: reproducible sha256 {digest}\n")


def test_build_without_targets_uses_the_pinned_ones(home: dict[str, str], tmp_path: Path) -> None:
    app = hello_project(tmp_path / "app")
    proc = gxc(home, "build", cwd=app)
    assert proc.stdout == "riscv64-linux: dist/riscv64-linux/hello\nwasm: dist/wasm/hello.wasm\n"


MY_BOARD = """# A board of ours: the generic RISC-V port plus a tag and a stamp.
name = "my-board"
aliases = ["mb"]
description = "our RISC-V board"
inherits = ["riscv64-linux"]

[build]
tags = ["board"]
ldflags = ["-X main.port=my-board"]
"""


def test_user_port_is_added_listed_shown_merged_and_builds(own_home: dict[str, str], tmp_path: Path) -> None:
    port_file = tmp_path / "my-board.toml"
    port_file.write_text(MY_BOARD)
    target = Path(own_home["GXC_HOME"]) / "config" / "platforms" / "my-board.toml"
    assert gxc(own_home, "platform", "add", str(port_file)).stdout == f"added port my-board ({target})\n"
    ports = json.loads(gxc(own_home, "platform", "list", "--json", cwd=tmp_path).stdout)["ports"]
    mine = next(p for p in ports if p["name"] == "my-board")
    assert mine == {"name": "my-board", "goos": "linux", "goarch": "riscv64", "usable": True, "problems": [],
                    "origin": str(target), "aliases": ["mb"], "shadows": None, "toolchain": "go1.21.13"}
    assert gxc(own_home, "platform", "show", "mb").stdout == (
        f"# my-board from {target}\n"
        'name = "my-board"\n'
        'aliases = ["mb"]\n'
        'description = "our RISC-V board"\n'
        'inherits = ["riscv64-linux"]\n'
        'goos = "linux"\n'
        'goarch = "riscv64"\n'
        'min_go = "1.14"\n'
        "\n[env]\nCGO_ENABLED = \"0\"\n"
        "\n[build]\n"
        'tags = ["board"]\n'
        'flags = ["-trimpath"]\n'
        'ldflags = ["-s", "-w", "-X main.port=my-board"]\n'
        "\n[runner]\n"
        'candidates = [["qemu-riscv64", "{bin}"]]\n'
        'debian_package = "qemu-user"\n')
    assert "my-board-go" in os.listdir(Path(own_home["GXC_HOME"]) / "shims")
    app = hello_project(tmp_path / "app")
    proc = gxc(own_home, "run", "-t", "my-board", "--", "hi", cwd=app)
    assert proc.stdout == f"hello from go{OLD} on linux/riscv64 port=my-board extra=board-tag args=[hi]\n".replace(
        OLD, NEW)
    clash = gxc(own_home, "platform", "add", str(port_file), check=False)
    assert (clash.returncode, clash.stderr) == (2, f"gxc: error: port name \"my-board\" is already taken by {target} "
                                                   "(hint: rename the port or its alias, or `gxc platform remove` the old one)\n")
    assert gxc(own_home, "platform", "remove", "my-board").stdout == "removed port my-board\n"
    assert "my-board-go" not in os.listdir(Path(own_home["GXC_HOME"]) / "shims")


@pytest.mark.parametrize(("text", "message"), [
    ('name = "bad"\ngoos = "linux"\ngoarch = "arm"\ncompiler = "gc"\n',
     "bad.toml:4:1: unknown key \"compiler\" (known: name, aliases, description, inherits, goos, goarch, min_go, "
     "flavor, vars, env, build, cgo, runner, board)"),
    ('name = "bad"\ngoos = "linux"\ngoarch = "arm"\n\n[vars]\nGOARM = "8"\n',
     "bad.toml:6:1: GOARM = \"8\" is not allowed (allowed: 5, 6, 7, 5,softfloat, 6,softfloat, 7,softfloat, "
     "5,hardfloat, 6,hardfloat)"),
    ('name = "bad"\ninherits = ["riscv64-linux"]\n[build]\nldflag = ["-s"]\n',
     "bad.toml:4:1: unknown key \"ldflag\" in [build] (known: tags, flags, gcflags, ldflags, hardening)"),
])
def test_bad_port_files_are_refused_with_line_numbers(gxc_env: dict[str, str], tmp_path: Path, text: str,
                                                      message: str) -> None:
    port_file = tmp_path / "bad.toml"
    port_file.write_text(text)
    proc = gxc(gxc_env, "platform", "add", str(port_file), check=False)
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == f"gxc: error: {tmp_path}/{message} (hint: fix the port file and try again)\n"
    assert not (Path(gxc_env["GXC_HOME"]) / "config" / "platforms" / "bad.toml").exists()


def test_port_shim_builds_the_same_binary_as_gxc_build(home: dict[str, str], tmp_path: Path) -> None:
    app = hello_project(tmp_path / "app")
    gxc(home, "build", "-t", "riscv64-linux", cwd=app)
    env = dict(home, PATH=f"{home['GXC_HOME']}/shims:{home['PATH']}")
    subprocess.run(["riscv64-linux-go", "build", "-o", "via-shim", "."], cwd=app, env=env, check=True)
    assert (app / "via-shim").read_bytes() == (app / "dist" / "riscv64-linux" / "hello").read_bytes()
    goenv = subprocess.run(["riscv64-linux-go", "env", "GOOS", "GOARCH", "CGO_ENABLED"], cwd=app, env=env,
                           capture_output=True, text=True, check=True)
    assert goenv.stdout == "linux\nriscv64\n0\n"


def test_unknown_port_suggests_the_closest_names(home: dict[str, str], tmp_path: Path) -> None:
    proc = gxc(home, "build", "-t", "riscv64-elf", cwd=hello_project(tmp_path / "app"), check=False)
    assert (proc.returncode, proc.stderr) == (2, "gxc: error: unknown port \"riscv64-elf\" (hint: did you mean "
                                                 "rv64-elf, riscv64-linux, riscv64-unknown-elf? "
                                                 "`gxc platform list` shows every port)\n")


def test_port_needing_a_newer_go_names_the_minimum(home: dict[str, str], tmp_path: Path) -> None:
    app = hello_project(tmp_path / "app")
    with (app / "toolchains.toml").open("a") as f:
        f.write('\n[platforms.rva23]\ninherits = ["riscv64-linux"]\n[platforms.rva23.vars]\nGORISCV64 = "rva23u64"\n')
    proc = gxc(home, "build", "-t", "rva23", cwd=app, check=False)
    assert (proc.returncode, proc.stderr) == (2, f"gxc: error: port rva23 cannot be built with go{NEW}: GORISCV64=rva23u64 "
                                                 f"needs go >= 1.25 (selected go{NEW}) (hint: pick another toolchain "
                                                 "with -T, or another port)\n")


def test_missing_emulator_names_the_debian_package(home: dict[str, str], tmp_path: Path) -> None:
    app = hello_project(tmp_path / "app")
    bare = tmp_path / "bin"
    bare.mkdir()
    for tool in ("sh", "env"):
        (bare / tool).symlink_to(shutil.which(tool) or f"/bin/{tool}")
    env = dict(home, PATH=str(bare))
    proc = gxc(env, "run", "-t", "riscv64-linux", cwd=app, check=False)
    assert (proc.returncode, proc.stderr) == (1, "gxc: error: port riscv64-linux: no runner found on PATH "
                                                 "(qemu-riscv64) (hint: apt-get install qemu-user)\n")
    listing = json.loads(gxc(env, "platform", "list", "--json", cwd=app).stdout)["ports"]
    gnu = next(p for p in listing if p["name"] == "riscv64-linux-gnu")
    assert gnu["problems"] == ["C compiler riscv64-linux-gnu-gcc not found (apt-get install gcc-riscv64-linux-gnu)",
                               "no runner found on PATH (qemu-riscv64) (apt-get install qemu-user)"]


def test_exec_and_env_take_a_port(home: dict[str, str], tmp_path: Path) -> None:
    proc = gxc(home, "exec", "-T", NEW, "-t", "armv7-linux", "--", "go", "env", "GOOS", "GOARCH", "GOARM",
               cwd=tmp_path)
    assert proc.stdout == "linux\narm\n7\n"
    env = json.loads(gxc(home, "env", "-T", NEW, "-t", "wasm", "--shell", "json", cwd=tmp_path).stdout)
    assert {k: env[k] for k in ("GOOS", "GOARCH", "CGO_ENABLED", "GOTOOLCHAIN")} == {
        "GOOS": "js", "GOARCH": "wasm", "CGO_ENABLED": "0", "GOTOOLCHAIN": "local"}


def test_platform_list_says_why_a_port_is_unusable(home: dict[str, str], tmp_path: Path) -> None:
    app = hello_project(tmp_path / "app")
    with (app / "toolchains.toml").open("a") as f:
        f.write('\n[platforms.rv32]\ngoos = "linux"\ngoarch = "riscv32"\n'
                '\n[platforms.new-rv]\ninherits = ["riscv64-linux"]\nmin_go = "1.24"\n')
    ports = {p["name"]: p for p in json.loads(gxc(home, "platform", "list", "--json", cwd=app).stdout)["ports"]}
    assert ports["rv32"]["problems"] == [f"linux/riscv32 is unknown to go{NEW}", "no runner found on PATH (none configured)"]
    assert ports["new-rv"]["problems"] == [f"needs go >= 1.24 (selected go{NEW})"]
    assert ports["riscv64-linux"]["usable"] is True
    pairs = json.loads(gxc(home, "platform", "list", "--all", "--json", cwd=app).stdout)["ports"]
    assert {"linux/riscv64", "linux-riscv64", "wasip1/wasm", "windows/arm64"} <= {p["name"] for p in pairs}
