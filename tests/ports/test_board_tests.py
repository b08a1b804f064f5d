"""Bare metal as easy as Linux: plain programs and a module's own tests booted on their port's board under
qemu-system (riscv64 sifive_u, arm mcimx6ul-evk), with the board, the exit path and the arguments added by
gxc (go -overlay and -modfile) and the user's files left as they were; amd64 microvm, and each failure as
one line.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from gxc.cli.build import go_test_patterns
from gxc.ports import baremetal, boardsupport
from tests.conftest import BASE, FIXTURES, gxc, recipe_project
from tests.helpers import no_process_matches

GOPROXY = f"file://{FIXTURES / 'goproxy'}"
TAMAGO = "github.com/usbarmory/tamago"

PLAIN_MAIN = """package main

import (
\t"fmt"
\t"os"
\t"runtime"
)

func main() {
\tfmt.Printf("plain %s/%s %q\\n", runtime.GOOS, runtime.GOARCH, os.Args[1:])
\tos.Exit(3)
}
"""
CALC = "package calc\n\nfunc Add(a, b int) int { return a + b }\n"
CALC_TEST = """package calc

import "testing"

func TestAdd(t *testing.T) {
\tif Add(2, 3) != 5 {
\t\tt.Fatal("2+3")
\t}
}

func TestWrong(t *testing.T) {
\tif got := Add(2, 2); got != 5 {
\t\tt.Errorf("Add(2, 2) = %d, want 5", got)
\t}
}
"""
HANG_TEST = "package hang\n\nimport \"testing\"\n\nfunc TestForever(t *testing.T) { select {} }\n"
NEEDS_TEST = """package needs

import (
\t"net"
\t"os"
\t"os/exec"
\t"testing"
)

func TestFile(t *testing.T) {
\tif _, err := os.ReadFile("testdata/x.txt"); err != nil {
\t\tt.Fatal(err)
\t}
}

func TestNet(t *testing.T) {
\tif _, err := net.Dial("tcp", "127.0.0.1:1"); err != nil {
\t\tt.Fatal(err)
\t}
}

func TestExec(t *testing.T) {
\tif err := exec.Command("true").Run(); err != nil {
\t\tt.Fatal(err)
\t}
}
"""
# Packages of Go's own standard library, written for operating systems, not for TamaGo: copied unchanged
# into a module (their import path rewritten) and tested on the board with their own tests.
STDLIB_PACKAGES = ("container/list", "container/ring", "text/tabwriter", "encoding/csv")


def module(root: Path, files: dict[str, str], go: str = "1.22") -> Path:
    """A module that does not require the board module: go.mod with a low go line, no go.sum."""
    recipe_project(root)
    (root / "go.mod").write_text(f"module example.com/{root.name}\n\ngo {go}\n")
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def board_env(home: dict[str, str], project: Path) -> dict[str, str]:
    # as a user has it: no -mod=mod, the default checksum database (never asked: the flavor pins the sums)
    return dict(home, GOPROXY=GOPROXY, GXC_TRUSTED_PATHS=str(project))


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*")
            if p.is_file() and "dist" not in p.relative_to(root).parts}


def no_qemu_left(where: Path) -> bool:
    return no_process_matches(f"qemu-system.*{where}")


def test_arguments_are_patched_into_a_copy_of_the_binary(tmp_path: Path) -> None:
    slot = baremetal.ARGS_MARKER + bytes(baremetal.ARGS_SLOT_SIZE - len(baremetal.ARGS_MARKER))
    binary = tmp_path / "x.test"
    binary.write_bytes(b"\x7fELF head" + slot + b"tail")
    copy = baremetal.with_arguments(str(binary), ["x.test", "-test.run=TestA", "b c", ""], str(tmp_path / ".."))
    patched = Path(copy).read_bytes()
    at = patched.index(baremetal.ARGS_MARKER) + len(baremetal.ARGS_MARKER)
    assert patched[at:at + 4] == (4).to_bytes(4, "little")
    assert patched[at + 4:].split(b"\0")[:4] == [b"x.test", b"-test.run=TestA", b"b c", b""]
    assert len(patched) == binary.stat().st_size and patched.endswith(b"tail")
    assert binary.read_bytes().count(b"\0") == len(slot) - len(baremetal.ARGS_MARKER)  # the build is untouched
    with pytest.raises(baremetal.BootError, match="at most"):
        baremetal.with_arguments(str(binary), ["x" * baremetal.ARGS_SLOT_SIZE], str(tmp_path))
    plain = tmp_path / "plain"
    plain.write_bytes(b"no slot here")
    assert baremetal.with_arguments(str(plain), ["a"], str(tmp_path)) == str(plain)
    go_side = boardsupport.support_files("riscv64", "semihosting")["exit/exit.go"]  # the Go side and the runner agree
    assert ", ".join(f"0x{b:02x}" for b in baremetal.ARGS_MARKER) in go_side
    assert f"[{baremetal.ARGS_SLOT_SIZE}]byte" in go_side


def test_isa_debug_exit_status_is_decoded_and_semihosting_is_taken_as_is() -> None:
    assert [baremetal.exit_code(s, "isa-debug-exit") for s in (1, 7, 0, 2)] == [0, 3, None, None]
    assert [baremetal.exit_code(s, "semihosting") for s in (0, 3, 1)] == [0, 3, 1]


def test_go_test_patterns_are_found_among_its_flags() -> None:
    assert go_test_patterns(["-run", "TestA", "-v", "./calc", "-count=2", "./..."]) == ["./calc", "./..."]
    assert go_test_patterns(["-run", "TestA"]) == ["."]
    assert go_test_patterns(["./a", "--", "./not-a-package"]) == ["./a"]


def test_the_generated_go_mod_adds_the_board_only_when_missing() -> None:
    board = boardsupport.Board("p", f"{TAMAGO}/board/qemu/sifive_u", "semihosting", "riscv64", TAMAGO, "v1.25.5",
                               (f"{TAMAGO} v1.25.5 h1:x=",))
    plain = boardsupport.generated_modfile("module m\n\ngo 1.22\n", board, "/s", "1.25.2")
    assert plain.splitlines() == ["module m", "", "go 1.25.2", "", "require gxc.invalid/baremetal v0.0.0",
                                  "replace gxc.invalid/baremetal => /s", f"require {TAMAGO} v1.25.5 // indirect"]
    own = f"module m\n\ngo 1.25.3\n\nrequire (\n\t{TAMAGO} v1.25.5\n)\n"
    assert boardsupport.generated_modfile(own, board, "/s", "1.25.2").startswith(own.rstrip("\n"))
    assert TAMAGO not in boardsupport.generated_modfile(own, board, "/s", "").split(")", 1)[1]
    assert boardsupport.generated_sums("a b h1:y=", board) == f"a b h1:y=\n{TAMAGO} v1.25.5 h1:x=\n"
    with pytest.raises(Exception, match="no semihosting exit for GOARCH=mips"):
        boardsupport.support_files("mips", "semihosting")


def test_a_board_exit_gxc_does_not_know_is_refused_at_its_line(tamago_home: dict[str, str], tmp_path: Path) -> None:
    project = module(tmp_path / "badexit", {"main.go": PLAIN_MAIN})
    with (project / "toolchains.toml").open("a") as f:
        f.write('\n[platforms.myboard]\ninherits = ["riscv64-unknown-elf"]\n\n[platforms.myboard.board]\n'
                'exit = "reset"\n')
    proc = gxc(board_env(tamago_home, project), "run", "-t", "myboard", cwd=project, check=False)
    assert proc.returncode != 0
    assert proc.stderr == (f"gxc: error: {project}/toolchains.toml:11:1: board.exit = \"reset\" is not a way out "
                           "(known: semihosting, isa-debug-exit) (hint: fix the port file and try again)\n")


@pytest.mark.slow
@pytest.mark.emulator
@pytest.mark.parametrize(("port", "goarch"), [("riscv64-unknown-elf", "riscv64"), ("armv7a-none-eabi", "arm")])
def test_a_plain_program_boots_prints_and_exits_with_its_code(tamago_home: dict[str, str], tmp_path: Path,
                                                              port: str, goarch: str) -> None:
    """No board import, no assembly, no tamago requirement: gxc adds them for the boot, not to the tree."""
    project = module(tmp_path / "plain", {"main.go": PLAIN_MAIN})
    before = tree(project)
    proc = gxc(board_env(tamago_home, project), "run", "-t", port, "--", "one", "two words", cwd=project,
               check=False, timeout=900)
    assert proc.returncode == 3, proc.stderr
    assert proc.stdout.splitlines()[-1] == f'plain tamago/{goarch} ["one" "two words"]'
    assert tree(project) == before  # go.mod, go.sum (none) and the sources as they were


@pytest.mark.slow
@pytest.mark.emulator
@pytest.mark.parametrize("port", ["riscv64-unknown-elf", "armv7a-none-eabi"])
def test_a_modules_own_tests_run_on_the_board(tamago_home: dict[str, str], tmp_path: Path, port: str) -> None:
    project = module(tmp_path / "calc", {"calc/calc.go": CALC, "calc/calc_test.go": CALC_TEST})
    (project / "go.sum").write_text("")  # a go.sum of its own, which must stay as it is too
    before = tree(project)
    env = board_env(tamago_home, project)
    failing = gxc(env, "test", "-t", port, "./...", cwd=project, check=False, timeout=900)
    assert failing.returncode == 1
    lines = failing.stdout.splitlines()
    assert re.fullmatch(r"--- FAIL: TestWrong \(\d+\.\d+s\)", lines[0]), lines
    assert lines[1:3] == ["    calc_test.go:13: Add(2, 2) = 4, want 5", "FAIL"]
    assert re.fullmatch(r"FAIL\texample\.com/calc/calc\t\d+\.\d+s", lines[3]), lines
    assert failing.stderr.splitlines()[-1] == f"gxc: go test for {port} exited 1"
    one = gxc(env, "test", "-t", port, "-run", "TestAdd", "-v", "-count", "2", "./calc", cwd=project,
              check=False, timeout=900)
    assert one.returncode == 0, one.stdout + one.stderr
    assert len(re.findall(r"^--- PASS: TestAdd \(\d+\.\d+s\)$", one.stdout, re.MULTILINE)) == 2  # -count did
    assert "TestWrong" not in one.stdout  # and -run did
    assert re.fullmatch(r"ok  \texample\.com/calc/calc\t\d+\.\d+s", one.stdout.splitlines()[-1])
    assert tree(project) == before


@pytest.mark.slow
@pytest.mark.emulator
def test_a_test_that_never_returns_is_stopped_and_named(tamago_home: dict[str, str], tmp_path: Path) -> None:
    project = module(tmp_path / "hangs", {"hang/hang_test.go": HANG_TEST, "calc/calc.go": CALC})
    started = time.monotonic()
    proc = gxc(board_env(tamago_home, project), "test", "-t", "riscv64-unknown-elf", "--boot-timeout", "6",
               "./...", cwd=project, check=False, timeout=900)
    assert proc.returncode == 1
    assert (f"gxc: error: the tests in {project / 'hang'} (hang.test) did not finish within 6 s on "
            "riscv64-unknown-elf; stopped QEMU (hint: raise it with --boot-timeout, or look for a test that "
            "waits forever)") in proc.stdout  # go test shows the runner's output above the package's FAIL
    assert re.search(r"^FAIL\texample\.com/hangs/hang\t\d+\.\d+s$", proc.stdout, re.MULTILINE), proc.stdout
    assert time.monotonic() - started < 600
    assert no_qemu_left(tmp_path)


@pytest.mark.slow
@pytest.mark.emulator
def test_what_bare_metal_lacks_fails_the_test_with_its_own_error(tamago_home: dict[str, str], tmp_path: Path) -> None:
    project = module(tmp_path / "needs", {"needs/needs_test.go": NEEDS_TEST, "needs/testdata/x.txt": "hi\n"})
    proc = gxc(board_env(tamago_home, project), "test", "-t", "riscv64-unknown-elf", "./...", cwd=project,
               check=False, timeout=900)
    assert proc.returncode == 1
    out = proc.stdout
    assert "needs_test.go:12: open testdata/x.txt: No such file or directory" in out  # no files on the board
    assert "--- FAIL: TestNet" in out and "--- FAIL: TestExec" in out
    assert 'exec: "true": executable file not found in $PATH' in out
    assert no_qemu_left(tmp_path)


@pytest.mark.slow
@pytest.mark.emulator
def test_go_standard_library_packages_pass_their_own_tests_on_the_board(tamago_home: dict[str, str],
                                                                         tmp_path: Path) -> None:
    goroot = Path(tamago_home["GXC_HOME"]) / "toolchains" / f"tamago@{BASE}" / "src"
    project = module(tmp_path / "lib", {})
    for package in STDLIB_PACKAGES:
        shutil.copytree(goroot / package, project / package, ignore=shutil.ignore_patterns("testdata"))
        for source in (project / package).glob("*.go"):
            source.write_text(source.read_text().replace(f'"{package}"', f'"example.com/lib/{package}"'))
    proc = gxc(board_env(tamago_home, project), "test", "-t", "riscv64-unknown-elf", "-v", "./...", cwd=project,
               check=False, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    oks = [line.split("\t")[1] for line in proc.stdout.splitlines() if line.startswith("ok  \t")]
    assert oks == [f"example.com/lib/{p}" for p in sorted(STDLIB_PACKAGES)]
    assert proc.stdout.count("--- PASS: ") >= 40  # their tests, run one by one on the board


@pytest.mark.slow
@pytest.mark.emulator
def test_amd64_microvm_boots_under_tcg_until_the_board_needs_a_timer_tcg_lacks(tamago_home: dict[str, str],
                                                                               tmp_path: Path) -> None:
    """Blocked here (see the README): TamaGo's board/qemu/microvm boots from its PVH note, then pvclock.Init
    wants an invariant TSC or KVM's clock; QEMU 7.2's TCG offers neither, and this machine's KVM (kvm-pvm)
    cannot run it. gxc builds it, boots it and says why it stopped, without inventing an exit code."""
    project = module(tmp_path / "amd", {"main.go": PLAIN_MAIN})
    proc = gxc(board_env(tamago_home, project), "run", "-t", "x86_64-unknown-none", cwd=project, check=False,
               timeout=900)
    assert proc.returncode == 1
    assert "panic: could not set system timer" in proc.stdout + proc.stderr
    assert "kvm/pvclock.Init" in proc.stdout + proc.stderr
    assert re.search(r"gxc: error: QEMU for x86_64-unknown-none ended \(status 0\) after \d+\.\d s before the "
                     r"program reported an exit code", proc.stderr), proc.stderr
    elf = project / "dist" / "x86_64-unknown-none" / "amd"
    machine, entry = baremetal.elf_entry(str(elf))
    assert machine == 62 and 0x10010000 <= entry < 0x20000000  # x86-64, linked where microvm loads it


@pytest.mark.slow
@pytest.mark.emulator
def test_each_bare_metal_test_failure_is_one_line(tamago_home: dict[str, str], tmp_path: Path) -> None:
    project = module(tmp_path / "fails", {"calc/calc.go": CALC, "calc/calc_test.go": CALC_TEST})
    with (project / "toolchains.toml").open("a") as f:
        f.write('\n[platforms.noboard]\ngoos = "tamago"\ngoarch = "riscv64"\nflavor = "tamago"\n\n'
                '[platforms.noboard.runner]\ncandidates = [["qemu-system-riscv64", "-kernel", "{bin}"]]\n')
    env = board_env(tamago_home, project)
    proc = gxc(env, "test", "-t", "noboard", cwd=project, check=False)
    assert (proc.returncode, proc.stderr) == (2, "gxc: error: port noboard runs on bare metal but names no board to "
                                                 "run tests on (hint: add [board] package = \"...\" and exit = "
                                                 "\"semihosting\" to the port file)\n")
    (project / "vendor").mkdir()
    (project / "vendor" / "modules.txt").write_text("")
    proc = gxc(env, "test", "-t", "riscv64-unknown-elf", cwd=project, check=False)
    assert (proc.returncode, proc.stderr) == (2, f"gxc: error: {project} is vendored (vendor/modules.txt), and the "
                                                 "board gxc adds is not in vendor/ (hint: run it with GOFLAGS=-mod=mod "
                                                 "(the modules come from GOPROXY and the module cache))\n")
    shutil.rmtree(project / "vendor")
    empty = tmp_path / "empty-proxy"
    empty.mkdir()
    unreachable = dict(env, GOPROXY=f"file://{empty}", GOMODCACHE=str(tmp_path / "modcache"))
    proc = gxc(unreachable, "test", "-t", "riscv64-unknown-elf", "./...", cwd=project, check=False, timeout=900)
    assert proc.returncode == 1
    assert proc.stderr.startswith(f"gxc: error: port riscv64-unknown-elf: cannot fetch the board module {TAMAGO}@"
                                  f"v{BASE} from GOPROXY=file://{empty}: "), proc.stderr
    assert proc.stderr.endswith("(hint: make that proxy reachable, or set GOPROXY to one that has the module "
                                "(a file:// proxy works offline))\n") and proc.stderr.count("\n") == 1
    subprocess.run(["chmod", "-R", "u+w", str(tmp_path / "modcache")], check=False)  # go writes it read-only
    bare = tmp_path / "bin"
    bare.mkdir()
    for tool in ("sh", "git"):
        (bare / tool).symlink_to(shutil.which(tool) or "")
    proc = gxc(dict(env, PATH=str(bare)), "test", "-t", "armv7a-none-eabi", cwd=project, check=False)
    assert (proc.returncode, proc.stderr) == (
        1, "gxc: error: port armv7a-none-eabi: no runner found on PATH (qemu-system-arm) "
           "(hint: apt-get install qemu-system-arm)\n")
