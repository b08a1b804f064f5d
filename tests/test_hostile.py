"""A hostile repository, mirror directory, server and shared cache against gxc's one home per decision.

Each attack of issue 19 is reproduced with the real git, the real go command and real servers, and
shown harmless: no file created outside the test's own directories, no variable or secret reaching
a child, no install changed. Where the attack works on the tools themselves (git runs a committed
`core.fsmonitor`), the test first shows that it does, so a green run cannot mean a dead attack.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import NEW, OLD, ROOT, gxc
from tests.helpers import write_hello_module
from tests.mirror_server import Fault, MirrorServer

pytestmark = pytest.mark.slow
PASSPHRASE = "correct horse"
# git runs this as core.fsmonitor: it leaves the environment it got where the test can see it
FSMONITOR = '#!/bin/sh\nenv > "{mark}"\nexit 1\n'


def committed_bare_repository(module: Path, mark: Path) -> None:
    """What a clone holds when a repository commits a git directory as plain files at the module root."""
    for name in ("objects", "refs/heads", "refs/tags"):
        (module / name).mkdir(parents=True)
    (module / "HEAD").write_text("ref: refs/heads/main\n")
    script = module / "fsmonitor.sh"
    script.write_text(FSMONITOR.format(mark=mark))
    script.chmod(0o755)
    (module / "config").write_text(f"[core]\n\trepositoryformatversion = 0\n\tbare = false\n\tworktree = .\n"
                                   f"\tfsmonitor = {script}\n")


def test_a_committed_git_config_runs_nothing_under_gxc_build(own_home: dict[str, str], tmp_path: Path) -> None:
    module = write_hello_module(tmp_path / "clone")
    mark = tmp_path / "PWNED"
    committed_bare_repository(module, mark)
    subprocess.run(["git", "status"], cwd=module, capture_output=True, check=False,
                   env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), "SECRET": "x"})
    assert mark.exists(), "the attack must work on git itself, or this test proves nothing"
    mark.unlink()

    env = dict(own_home, GXC_SIGNING_PASSWORD=PASSPHRASE)
    gxc(env, "keygen", "release", cwd=tmp_path)
    gxc(env, "pin", NEW, cwd=module)
    built = gxc(env, "build", "-t", "riscv64-linux", "--sign", str(tmp_path / "release.key"), cwd=module)
    assert "riscv64-linux: dist/riscv64-linux/hello" in built.stdout
    assert not mark.exists()
    statement = json.loads((module / "dist" / "riscv64-linux" / "hello.intoto.json").read_text())
    assert "gitCommit" not in json.dumps(statement)  # not a repository Go's VCS stamping would read
    assert gxc(env, "provenance", "dist/riscv64-linux/hello", cwd=module).returncode == 0
    assert not mark.exists()


def test_no_secret_reaches_a_program_the_build_starts(own_home: dict[str, str], tmp_path: Path) -> None:
    module = write_hello_module(tmp_path / "app")
    dump = tmp_path / "toolexec.env"
    wrapper = tmp_path / "toolexec.sh"
    wrapper.write_text(f'#!/bin/sh\nenv >> "{dump}"\nexec "$@"\n')
    wrapper.chmod(0o755)
    (module / "toolchains.toml").write_text(f'[toolchain]\ngo = "{NEW}"\n\n[env]\nGOFLAGS = "-toolexec={wrapper}"\n')
    env = dict(own_home, GXC_SIGNING_PASSWORD=PASSPHRASE, GXC_TRUSTED_PATHS=str(tmp_path))
    gxc(env, "keygen", "release", cwd=tmp_path)
    gxc(env, "build", "-t", "riscv64-linux", "--sign", str(tmp_path / "release.key"), cwd=module)
    seen = dump.read_text()
    assert "GOARCH=riscv64" in seen  # the wrapper ran for every compile: it saw the build's environment
    assert PASSPHRASE not in seen and "GXC_SIGNING_PASSWORD" not in seen


CHILD_CALLS = {("subprocess", n) for n in ("run", "Popen", "call", "check_call", "check_output", "getoutput",
                                           "getstatusoutput")}
CHILD_CALLS |= {("os", n) for n in ("system", "popen", "fork", "forkpty", "posix_spawn", "posix_spawnp", "execv",
                                    "execve", "execvp", "execvpe", "execl", "execle", "execlp", "execlpe", "spawnv",
                                    "spawnve", "spawnvp", "spawnvpe", "spawnl")}


def test_every_program_gxc_starts_goes_through_the_one_launcher() -> None:
    found = []
    for path in sorted((ROOT / "gxc").rglob("*.py")):
        if path == ROOT / "gxc" / "ground" / "launch.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and (node.value.id, node.attr) in CHILD_CALLS):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value.id}.{node.attr}")
            if isinstance(node, ast.ImportFrom) and node.module in ("subprocess", "os", "pty", "multiprocessing"):
                names = {a.name for a in node.names} & {n for _, n in CHILD_CALLS}
                found += [f"{path.relative_to(ROOT)}:{node.lineno}: from {node.module} import {n}" for n in names]
    assert found == []
    launcher = (ROOT / "gxc" / "ground" / "launch.py").read_text()
    assert "core.fsmonitor=false" in launcher and "GXC_SIGNING_PASSWORD" in launcher


def test_shims_are_only_the_programs_a_release_ships(own_home: dict[str, str]) -> None:
    bin_dir = Path(own_home["GXC_HOME"]) / "toolchains" / f"go{NEW}" / "bin"
    for name in ("ls", "ssh", "git"):
        (bin_dir / name).write_text("#!/bin/sh\ntouch /tmp/gxc-hostile-shim\n")
        (bin_dir / name).chmod(0o755)
    gxc(own_home, "reshim")
    shims = sorted(p.name for p in (Path(own_home["GXC_HOME"]) / "shims").iterdir())
    assert {"go", "gofmt"} <= set(shims)
    assert not {"ls", "ssh", "git"} & set(shims)


def test_a_planted_link_in_dist_is_never_written_through(own_home: dict[str, str], tmp_path: Path) -> None:
    module = write_hello_module(tmp_path / "clone")
    outside = tmp_path / "outside"
    outside.mkdir()
    (module / "dist").mkdir()
    (module / "dist" / "riscv64-linux").symlink_to(outside)
    gxc(own_home, "pin", NEW, cwd=module)
    proc = gxc(own_home, "build", "-t", "riscv64-linux", cwd=module, check=False)
    assert proc.returncode == 1 and len(proc.stderr.splitlines()) == 1, proc.stderr
    assert "is a symbolic link" in proc.stderr and "does not write through links" in proc.stderr
    assert list(outside.iterdir()) == []
    (module / "dist" / "riscv64-linux").unlink()
    (module / "dist").rmdir()
    (module / "dist").symlink_to(outside)  # the output root itself is the project's choice, links included
    proc = gxc(own_home, "build", "-t", "riscv64-linux", cwd=module, check=False)
    assert proc.returncode == 1 and list(outside.iterdir()) == []


def test_mirror_sync_does_not_follow_planted_links_and_reverifies_what_it_finds(
        gxc_env: dict[str, str], mirror: MirrorServer, tmp_path: Path) -> None:
    fleet = tmp_path / "fleet"
    fleet.mkdir()
    victim = tmp_path / "victim"
    victim.write_text("keep me\n")
    archive = f"go{NEW}.linux-amd64.tar.gz"
    (fleet / archive).symlink_to(victim)
    (fleet / f"{archive}.sha256").write_text("0" * 64 + "\n")  # a served name holding other bytes
    proc = gxc(gxc_env, "mirror", "sync", str(fleet), "--versions", NEW, check=False)
    assert victim.read_text() == "keep me\n"
    if proc.returncode == 0:  # replaced the link by the verified file, never wrote through it
        assert not (fleet / archive).is_symlink()
    else:
        assert "link" in proc.stderr and len(proc.stderr.splitlines()) == 1, proc.stderr
    (fleet / archive).unlink(missing_ok=True)
    done = gxc(gxc_env, "mirror", "sync", str(fleet), "--versions", NEW)
    assert (fleet / f"{archive}.sha256").read_text().split()[0] != "0" * 64, done.stderr
    (fleet / archive).write_bytes(b"not the archive")  # planted under the served name: not "already there"
    again = gxc(gxc_env, "mirror", "sync", str(fleet), "--versions", NEW)
    assert archive in again.stderr + again.stdout
    assert gxc(gxc_env, "mirror", "verify", str(fleet)).stdout.strip() == f"{fleet}: ok"


def test_a_server_that_trickles_or_announces_too_much_is_cut_off(gxc_env: dict[str, str], mirror: MirrorServer,
                                                                 tmp_path: Path) -> None:
    env = dict(gxc_env, GXC_HTTP_DEADLINE="3")
    mirror.state.add_fault("index.json", Fault("trickle", seconds=2), times=10)
    started = time.monotonic()
    proc = gxc(env, "list-remote", check=False)
    assert proc.returncode == 1 and len(proc.stderr.splitlines()) == 1, proc.stderr
    assert "took more than 3 s" in proc.stderr
    assert time.monotonic() - started < 60
    mirror.state.faults.clear()
    mirror.state.add_fault("index.json", Fault("huge_length", after=1 << 40), times=10)
    proc = gxc(env, "list-remote", check=False)
    assert proc.returncode == 1 and "announces 1099511627776 bytes for a index" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_an_untrusted_env_table_is_ignored_not_validated(own_home: dict[str, str], tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    clone.mkdir()
    (clone / "toolchains.toml").write_text(f'[toolchain]\ngo = "{NEW}"\n\n[env]\n"NOT A NAME" = 1\nHOME = "/x"\n')
    run_env = dict(own_home, PATH=f"{own_home['GXC_HOME']}/shims:{own_home['PATH']}")
    ran = subprocess.run(["go", "version"], cwd=clone, env=run_env, capture_output=True, text=True, check=False)
    assert ran.returncode == 0 and f"go{NEW}" in ran.stdout, ran.stderr
    assert "ignoring [env]" in ran.stderr


@pytest.mark.parametrize("name", ["HOME", "XDG_CONFIG_HOME", "GOCACHEPROG", "_GXC_DIFF", "GXC_MIRROR"])
def test_a_trusted_env_table_cannot_set_what_gxc_owns(own_home: dict[str, str], tmp_path: Path, name: str) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "toolchains.toml").write_text(f'[toolchain]\ngo = "{NEW}"\n\n[env]\n{name} = "/tmp/elsewhere"\n')
    env = dict(own_home, GXC_TRUSTED_PATHS=str(app))
    proc = gxc(env, "env", cwd=app, check=False)
    assert proc.returncode != 0 and len(proc.stderr.splitlines()) == 1
    assert f"{name}" in proc.stderr and "cannot be set from a project file" in proc.stderr


def test_a_linked_pin_file_does_not_lend_its_trust_to_the_clone(own_home: dict[str, str], tmp_path: Path) -> None:
    trusted = tmp_path / "trusted"
    trusted.mkdir()
    (trusted / "go.env").write_text("GOFLAGS=-mod=mod\n")
    (trusted / "toolchains.toml").write_text(f'[toolchain]\ngo = "{NEW}"\n\n[env]\nGOENV = "go.env"\n')
    gxc(own_home, "trust", cwd=trusted)
    clone = tmp_path / "clone"
    clone.mkdir()
    (clone / "go.env").write_text("GOFLAGS=-toolexec=/tmp/evil\n")
    (clone / "toolchains.toml").symlink_to(trusted / "toolchains.toml")
    shown = gxc(own_home, "env", cwd=clone)
    assert "GOENV" not in shown.stdout
    assert f"a link to {trusted / 'toolchains.toml'}, outside its own directory" in shown.stderr
    refused = gxc(own_home, "trust", cwd=clone, check=False)
    assert refused.returncode == 2 and "is a link to" in refused.stderr
    assert "GOENV" in gxc(own_home, "env", cwd=trusted).stdout  # the file where it is keeps its trust


def test_what_gxc_prints_from_a_file_name_is_escaped_for_the_terminal(own_home: dict[str, str],
                                                                      tmp_path: Path) -> None:
    proc = gxc(own_home, "trust", str(tmp_path / "evil\x1b]0;owned\x07\x1b[2J"), check=False)
    assert proc.returncode == 2 and "\x1b" not in proc.stderr and "\x07" not in proc.stderr
    assert "evil" in proc.stderr and len(proc.stderr.splitlines()) == 1


def test_force_offline_reinstalls_from_the_receipt_without_the_index(own_home: dict[str, str]) -> None:
    cache = Path(own_home["GXC_HOME"]) / "cache"  # a copied home: neither the index nor the archive is cached
    assert not any(p.name.startswith("index") for p in cache.rglob("*"))
    done = gxc(own_home, "install", "--force", "--offline", OLD)
    assert f"go{OLD} reinstalled" in done.stdout, done.stderr
    receipt = json.loads((Path(own_home["GXC_HOME"]) / "receipts" / f"go{OLD}.json").read_text())
    assert receipt["proved_by"].startswith(f"sha256 the receipt of go{OLD} (the index is not cached")
    assert gxc(own_home, "verify", OLD).stdout == f"go{OLD}: ok\n"
    refused = gxc(own_home, "install", "--offline", "1.23", check=False)
    assert refused.returncode == 1 and "not cached" in refused.stderr


def test_the_policy_checks_the_toolchain_the_build_uses(own_home: dict[str, str], tmp_path: Path) -> None:
    app = write_hello_module(tmp_path / "app")
    gxc(own_home, "pin", NEW, cwd=app)
    policy = tmp_path / "fleet.toml"
    policy.write_text(f'[policy]\ngo = ["{NEW}"]\n')
    for how in (("-T", OLD), ()):
        env = own_home if how else dict(own_home, GXC_TOOLCHAIN=OLD)
        proc = gxc(env, "build", *how, "-t", "riscv64-linux", "--policy", str(policy), cwd=app, check=False)
        assert proc.returncode == 1, proc.stdout
        assert f"policy: go{OLD} is not an allowed version" in proc.stderr
        assert not (app / "dist").exists()
    assert gxc(own_home, "build", "-t", "riscv64-linux", "--policy", str(policy), cwd=app).returncode == 0
