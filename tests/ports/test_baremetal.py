"""Bare metal for real: the tamago flavor's ELFs booted on qemu-system-riscv64 (sifive_u) and qemu-system-arm
(mcimx6ul-evk), their output and exit codes through semihosting, timeouts, and each missing piece as one line.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import time
from pathlib import Path

import pytest

from gxc.ports.baremetal import elf_entry, riscv_trampoline
from tests.conftest import BASE, BOOTSTRAP, FIXTURES, ROOT, flavor_env, gxc, recipe_project
from tests.helpers import no_process_matches
from tests.mirror_server import MirrorServer

pytestmark = [pytest.mark.slow, pytest.mark.emulator]
GOPROXY = f"file://{FIXTURES / 'goproxy'}"

ARM_MAIN = """package main

import (
\t"fmt"
\t"runtime"

\t_ "github.com/usbarmory/tamago/board/nxp/mx6ullevk"
)

func main() {
\tfmt.Printf("hello from %s on %s/%s\\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
\texit(5)
}
"""
ARM_EXIT_GO = """package main

// sysExitExtended is ARM semihosting SYS_EXIT_EXTENDED (0x20) with {ADP_Stopped_ApplicationExit, code}.
func sysExitExtended(block *[2]uint32)

func exit(code int) {
\tblock := [2]uint32{0x20026, uint32(code)}
\tsysExitExtended(&block)
\tfor {
\t}
}
"""
ARM_EXIT_S = """#include "textflag.h"

// func sysExitExtended(block *[2]uint32)
TEXT \u00b7sysExitExtended(SB), NOSPLIT, $0-4
\tMOVW\tblock+0(FP), R1
\tMOVW\t$0x20, R0
\tWORD\t$0xef123456 // svc 0x123456: the ARM semihosting call
\tRET
"""
NEVER_EXITS = """package main

import (
\t"fmt"

\t_ "github.com/usbarmory/tamago/board/qemu/sifive_u"
)

func main() {
\tfmt.Println("up, and staying up")
\tselect {}
}
"""


def baremetal_project(root: Path, **files: str) -> Path:
    """A copy of examples/baremetal with a toolchains.toml naming the fixture patch by absolute path."""
    shutil.copytree(ROOT / "examples" / "baremetal", root, ignore=shutil.ignore_patterns("toolchains.toml", "dist"))
    recipe_project(root)
    for name, text in files.items():
        (root / name).write_text(text)
    return root


def run_env(env: dict[str, str], project: Path) -> dict[str, str]:
    # the board packages come from the fixture's file proxy; go.sum already holds their hashes
    return dict(env, GOPROXY=GOPROXY, GOFLAGS="-mod=mod", GOSUMDB="off", GXC_TRUSTED_PATHS=str(project))


def test_trampoline_jumps_to_the_entry_point() -> None:
    words = struct.unpack("<III", riscv_trampoline(0x80012345))
    assert words[0] & 0x7F == 0x17 and (words[0] >> 7) & 0x1F == 5  # auipc t0
    assert words[1] & 0x7F == 0x13  # addi t0, t0, lo
    assert words[2] == (5 << 15) | 0x67  # jalr x0, 0(t0)
    hi, lo = words[0] >> 12, words[1] >> 20
    assert 0x80000000 + (hi << 12) + (lo - (1 << 12) if lo & 0x800 else lo) == 0x80012345


def test_riscv64_bare_metal_boots_on_sifive_u_and_exits_with_its_code(tamago_home: dict[str, str],
                                                                      tmp_path: Path) -> None:
    project = baremetal_project(tmp_path / "app")
    env = run_env(tamago_home, project)
    started = time.monotonic()
    proc = gxc(env, "run", "-t", "riscv64-unknown-elf", cwd=project, check=False, timeout=600)
    assert proc.returncode == 3, proc.stderr
    assert proc.stdout.splitlines()[-1] == f"hello from go{BASE} on tamago/riscv64, no operating system below"
    assert "has no peer" not in proc.stderr  # the board's NIC has an isolated backend, not a warning per run
    elf = project / "dist" / "riscv64-unknown-elf" / "baremetal"
    machine, entry = elf_entry(str(elf))
    assert machine == 243 and 0x80010000 <= entry < 0x90000000
    readelf = subprocess.run(["readelf", "-lW", str(elf)], capture_output=True, text=True, check=True).stdout
    assert "INTERP" not in readelf  # nothing beneath it: no loader
    first_load = next(line.split()[2] for line in readelf.splitlines() if line.strip().startswith("LOAD"))
    assert first_load.startswith("0x00000000800")  # loaded at 0x800xxxxx, sifive_u's RAM
    print(f"boot-to-exit: {time.monotonic() - started:.1f} s including the build")


def test_arm_bare_metal_boots_on_mcimx6ul_evk(tamago_home: dict[str, str], tmp_path: Path) -> None:
    project = tmp_path / "arm"
    project.mkdir()
    (project / "go.mod").write_text(f"module example.com/armbm\n\ngo 1.25\n\nrequire github.com/usbarmory/tamago v{BASE}\n")
    shutil.copy(ROOT / "examples" / "baremetal" / "go.sum", project / "go.sum")
    (project / "main.go").write_text(ARM_MAIN)
    (project / "exit_arm.go").write_text(ARM_EXIT_GO)
    (project / "exit_arm.s").write_text(ARM_EXIT_S)
    recipe_project(project)
    proc = gxc(run_env(tamago_home, project), "run", "-t", "armv7a-none-eabi", cwd=project, check=False, timeout=600)
    assert proc.returncode == 5, proc.stderr
    assert proc.stdout.splitlines()[-1] == f"hello from go{BASE} on tamago/arm"
    assert "has no peer" not in proc.stderr


def test_a_program_that_never_exits_is_stopped_by_the_timeout(tamago_home: dict[str, str], tmp_path: Path) -> None:
    project = baremetal_project(tmp_path / "forever", **{"main.go": NEVER_EXITS})
    (project / "exit_riscv64.go").unlink()
    (project / "exit_riscv64.s").unlink()
    started = time.monotonic()
    proc = gxc(run_env(tamago_home, project), "run", "-t", "riscv64-unknown-elf", "--timeout", "8", cwd=project,
               check=False, timeout=600)
    assert proc.returncode == 124
    assert proc.stdout.splitlines()[-1] == "up, and staying up"
    assert proc.stderr.endswith("gxc: error: the program for riscv64-unknown-elf did not exit within 8 s; stopped "
                                "it (hint: raise --timeout, or have it exit: bare metal exits through semihosting)\n")
    assert time.monotonic() - started < 300
    assert no_process_matches(f"qemu-system-riscv64.*{project}")  # QEMU is gone


def test_one_project_builds_each_port_with_its_own_toolchain(flavor_mirror: MirrorServer, tamago_home: dict[str, str],
                                                             tmp_path: Path) -> None:
    project = baremetal_project(tmp_path / "multi", **{"main.go": NEVER_EXITS.replace(
        '\t_ "github.com/usbarmory/tamago/board/qemu/sifive_u"\n', "")})
    (project / "exit_riscv64.go").unlink()
    (project / "exit_riscv64.s").unlink()
    (project / "board_tamago.go").write_text('//go:build tamago\n\npackage main\n\nimport _ '
                                             '"github.com/usbarmory/tamago/board/qemu/sifive_u"\n')
    env = run_env(flavor_env(tmp_path, flavor_mirror, project), project)
    gxc(env, "install", BOOTSTRAP, BASE, cwd=tmp_path)  # the oldest one bootstraps: the same key as the cached build
    gxc(env, "install", f"tamago@{BASE}", cwd=project, timeout=1800)
    out = gxc(env, "build", "-t", "riscv64-unknown-elf", "-t", "riscv64-linux", "-t", "wasip1", cwd=project).stdout
    assert sorted(out.splitlines()) == ["riscv64-linux: dist/riscv64-linux/baremetal",
                                        "riscv64-unknown-elf: dist/riscv64-unknown-elf/baremetal",
                                        "wasip1: dist/wasip1/baremetal.wasm"]
    versions = {port: subprocess.run([str(Path(env["GXC_HOME"]) / "toolchains" / f"go{BASE}" / "bin" / "go"),
                                      "version", str(project / "dist" / port / name)],
                                     env=dict(env, GOTOOLCHAIN="local"), capture_output=True, text=True,
                                     check=True).stdout.split(": ", 1)[1].strip()
                for port, name in (("riscv64-linux", "baremetal"), ("riscv64-unknown-elf", "baremetal"))}
    assert versions == {"riscv64-linux": f"go{BASE}", "riscv64-unknown-elf": f"go{BASE}"}
    assert elf_entry(str(project / "dist" / "riscv64-unknown-elf" / "baremetal"))[1] >= 0x80010000
    assert elf_entry(str(project / "dist" / "riscv64-linux" / "baremetal"))[1] < 0x80000000
    shim = subprocess.run([str(Path(env["GXC_HOME"]) / "shims" / "riscv64-unknown-elf-go"), "build", "-o", "viashim",
                           "."], cwd=project, env=env, capture_output=True, text=True, check=False)
    assert shim.returncode == 0, shim.stderr
    assert elf_entry(str(project / "viashim"))[1] >= 0x80010000


def test_missing_flavor_recipe_and_emulator_are_each_one_line(flavor_mirror: MirrorServer, tamago_home: dict[str, str],
                                                              tmp_path: Path) -> None:
    project = baremetal_project(tmp_path / "app")
    env = run_env(flavor_env(tmp_path, flavor_mirror, project), project)
    gxc(env, "install", BASE, cwd=tmp_path)
    proc = gxc(env, "build", "-t", "riscv64-unknown-elf", cwd=project, check=False)
    assert (proc.returncode, proc.stderr) == (2, f"gxc: error: port riscv64-unknown-elf builds with tamago@{BASE}, "
                                                 f"which is not installed (hint: run `gxc install tamago@{BASE}` "
                                                 "(make.bash with the tamago recipe: minutes, once per machine), or "
                                                 "set auto_install = true)\n")
    proc = gxc(env, "build", "-T", BOOTSTRAP, "-t", "riscv64-unknown-elf", cwd=project, check=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"gxc: error: flavor tamago has no recipe for go{BOOTSTRAP} (hint: its versions: ")
    bare = tmp_path / "bin"
    bare.mkdir()
    for tool in ("sh", "git", "bash"):
        (bare / tool).symlink_to(shutil.which(tool) or "")
    proc = gxc(dict(run_env(tamago_home, project), PATH=str(bare)), "run", "-t", "riscv64-unknown-elf", cwd=project,
               check=False, timeout=600)
    assert (proc.returncode, proc.stderr.splitlines()[-1]) == (
        1, "gxc: error: port riscv64-unknown-elf: no runner found on PATH (qemu-system-riscv64) "
           "(hint: apt-get install qemu-system-misc)")


def test_without_a_pin_the_required_tamago_module_picks_the_flavor(tamago_home: dict[str, str],
                                                                   tmp_path: Path) -> None:
    """No toolchains.toml, go1.25.5 not installed: go.mod requires tamago v1.25.5, so tamago@1.25.5 builds."""
    project = baremetal_project(tmp_path / "unpinned")
    (project / "toolchains.toml").unlink()
    out = gxc(run_env(tamago_home, project), "build", "-t", "riscv64-unknown-elf", cwd=project).stdout
    assert out == "riscv64-unknown-elf: dist/riscv64-unknown-elf/baremetal\n"
    assert elf_entry(str(project / "dist" / "riscv64-unknown-elf" / "baremetal"))[1] >= 0x80010000


def test_prune_keeps_a_flavor_while_its_release_is_kept(flavor_mirror: MirrorServer, tamago_home: dict[str, str],
                                                        tmp_path: Path) -> None:
    project = recipe_project(tmp_path / "project")
    env = flavor_env(tmp_path, flavor_mirror, project)
    gxc(env, "install", BOOTSTRAP, BASE, cwd=tmp_path)
    gxc(env, "install", f"tamago@{BASE}", cwd=project, timeout=1800)
    gxc(env, "use", BASE, cwd=tmp_path)
    first = gxc(env, "prune", cwd=tmp_path).stdout.splitlines()
    assert f"keep   tamago@{BASE} (the tamago build of kept go{BASE})" in first
    assert f"remove go{BOOTSTRAP} (the bootstrap of tamago@{BASE}; a rebuild installs it again)" in first
    gxc(env, "use", BOOTSTRAP, cwd=tmp_path)
    gxc(env, "trust", cwd=project)  # a trusted project, never tracked by `gxc pin`: prune knows it
    dry = gxc(env, "prune", cwd=tmp_path).stdout.splitlines()
    assert f"projects known: {project}" in dry
    assert f"keep   go{BASE} (pinned by {project}/toolchains.toml)" in dry
    assert f"keep   tamago@{BASE} (the tamago build of kept go{BASE})" in dry
    gxc(env, "uninstall", BASE, cwd=tmp_path)  # the flavor alone: still what the trusted project builds with
    dry = gxc(env, "prune", cwd=tmp_path).stdout.splitlines()
    assert f"keep   tamago@{BASE} (the tamago build of go{BASE}, pinned by {project}/toolchains.toml)" in dry
    gxc(env, "untrust", cwd=project)
    pruned = gxc(env, "prune", "--yes", cwd=tmp_path).stdout.splitlines()
    assert f"remove tamago@{BASE}: removed" in pruned
    assert not (Path(env["GXC_HOME"]) / "toolchains" / f"tamago@{BASE}").exists()


def test_an_unreachable_board_module_names_the_module_and_the_goproxy(tamago_home: dict[str, str],
                                                                       tmp_path: Path) -> None:
    project = baremetal_project(tmp_path / "app")
    empty = tmp_path / "empty-proxy"
    empty.mkdir()
    # a module cache of its own: the shared one may hold the board module from another test
    env = dict(run_env(tamago_home, project), GOPROXY=f"file://{empty}", GOMODCACHE=str(tmp_path / "modcache"))
    proc = gxc(env, "run", "-t", "riscv64-unknown-elf", cwd=project, check=False, timeout=600)
    assert proc.returncode == 1
    last = proc.stderr.splitlines()[-1]
    assert last.startswith("gxc: error: port riscv64-unknown-elf: go cannot fetch github.com/usbarmory/tamago@v")
    assert f"from GOPROXY=file://{empty} (" in last
    assert last.endswith("(hint: make that proxy reachable, or set GOPROXY to one that has the module "
                         "(a file:// proxy works offline))")
    subprocess.run(["chmod", "-R", "u+w", str(tmp_path / "modcache")], check=False)  # go writes it read-only
