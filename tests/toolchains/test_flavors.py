"""Source builds and flavors with real make.bash: tamago@1.25.5 from the TamaGo patch, a plain release from
its source archive, and every refusal as one line with nothing installed.

Built trees are kept by their input key in ~/.cache/gxc-builds (GXC_BUILD_CACHE, the demo's), like the mirror
in ~/.cache/gxc-mirror: the first run on a machine pays for make.bash, later runs reuse the build.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
import uuid
from pathlib import Path

import pytest

from gxc.ground.versions import Version
from gxc.toolchains.sourcebuild import documented_minimum, source_minimum
from tests.conftest import (
    BASE,
    BOOTSTRAP,
    BUILD_CACHE,
    NEW,
    OLD,
    TAMAGO_PATCH,
    TAMAGO_SHA,
    build_cache_key,
    flavor_env,
    gxc,
    recipe_project,
)
from tests.mirror_server import MirrorServer

pytestmark = pytest.mark.slow
def test_bootstrap_minimums_follow_the_documented_rule() -> None:
    assert {v: str(documented_minimum(Version.parse(v))) for v in ("1.20.3", "1.22.10", "1.24.11", "1.26.0")} == {
        "1.20.3": "1.17.13", "1.22.10": "1.20.6", "1.24.11": "1.22.6", "1.26.0": "1.24.6"}


def test_the_source_tree_states_the_same_minimum(installed_home: dict[str, str]) -> None:
    toolchains = Path(installed_home["GXC_HOME"]) / "toolchains"
    for version in (NEW, "1.24.11"):
        tree = str(toolchains / f"go{version}")
        assert source_minimum(tree) == documented_minimum(Version.parse(version))


def test_tamago_flavor_is_built_listed_and_verified(tamago_home: dict[str, str]) -> None:
    home = Path(tamago_home["GXC_HOME"])
    receipt = json.loads((home / "receipts" / f"tamago@{BASE}.json").read_text())
    assert (receipt["kind"], receipt["flavor"], receipt["base"], receipt["bootstrap"]) == (
        "source-build", "tamago", BASE, BOOTSTRAP)
    assert receipt["patches"] == [{"location": str(TAMAGO_PATCH), "sha256": TAMAGO_SHA}]
    listed = [r["version"] for r in json.loads(gxc(tamago_home, "list", "--json").stdout)["installed"]]
    assert listed == [BOOTSTRAP, f"tamago@{BASE}"]
    assert gxc(tamago_home, "verify", f"tamago@{BASE}").stdout == f"tamago@{BASE}: ok\n"
    dist = subprocess.run([str(home / "toolchains" / f"tamago@{BASE}" / "bin" / "go"), "tool", "dist", "list"],
                          env=dict(tamago_home, GOROOT=str(home / "toolchains" / f"tamago@{BASE}"),
                                   GOTOOLCHAIN="local"), capture_output=True, text=True, check=True).stdout
    assert {"tamago/riscv64", "tamago/arm"} <= set(dist.split())  # the toolchain's own source knows the GOOS
    assert not (home / "toolchains" / f"go{BASE}").exists()  # installed beside, never instead of, go1.25.5


def test_uninstall_then_install_reuses_the_cached_build(flavor_mirror: MirrorServer, tmp_path: Path,
                                                        tamago_home: dict[str, str]) -> None:
    project = recipe_project(tmp_path / "project")
    env = flavor_env(tmp_path, flavor_mirror, project)
    started = time.monotonic()
    out = gxc(env, "install", f"tamago@{BASE}", cwd=project, timeout=1800).stdout
    assert out == f"tamago@{BASE} installed (from the build cache) in {tmp_path}/gxc/toolchains/tamago@{BASE}\n"
    assert time.monotonic() - started < 170  # no make.bash: well under its ~3.5 minutes here, even when loaded
    assert gxc(env, "uninstall", f"tamago@{BASE}").stdout == f"tamago@{BASE} uninstalled\n"
    again = gxc(env, "install", f"tamago@{BASE}", cwd=project, timeout=1800).stdout
    assert again.startswith(f"tamago@{BASE} installed (from the build cache)")
    assert gxc(env, "verify", f"tamago@{BASE}").stdout == f"tamago@{BASE}: ok\n"


def fork_recipe_project(root: Path, url: str, ref: str) -> Path:
    """A trusted project whose tamago recipe for BASE is a git fork at `ref`, naming a commit it is not."""
    root.mkdir()
    (root / "toolchains.toml").write_text(
        f'[flavors.tamago.versions."{BASE}"]\ngit = {{ url = "{url}", ref = "{ref}", commit = "{"1" * 40}" }}\n')
    return root


def fork_env(home: Path, server: MirrorServer, project: Path) -> dict[str, str]:
    """The flavor environment with the bootstrap installed, so a fork recipe is refused for its own reason."""
    env = flavor_env(home, server, project)
    gxc(env, "install", BOOTSTRAP)
    return env


def refused(env: dict[str, str], project: Path, *extra: str) -> str:
    """Install the flavor, expect exit 1 with one error line (after make.bash's progress steps, if it ran),
    and nothing installed or left in staging."""
    proc = gxc(env, "install", f"tamago@{BASE}", *extra, cwd=project, check=False, timeout=1800)
    assert (proc.returncode, proc.stdout) == (1, ""), proc.stderr
    *steps, last = proc.stderr.splitlines()
    assert last.startswith("gxc: error: ") and not any(s.startswith(("gxc: error", "gxc: warning")) for s in steps)
    assert all(s.startswith(f"gxc: building tamago@{BASE} ") or s.startswith(f"gxc: tamago@{BASE}: Building ")
               for s in steps), proc.stderr
    home = Path(env["GXC_HOME"])
    assert not (home / "toolchains" / f"tamago@{BASE}").exists()
    staging = home / "staging"
    assert not staging.exists() or list(staging.iterdir()) == []
    return last + "\n"


def test_a_patch_whose_sha256_differs_is_refused_before_anything_runs(flavor_mirror: MirrorServer,
                                                                      tmp_path: Path) -> None:
    project = recipe_project(tmp_path / "project", sha="0" * 64)
    env = flavor_env(tmp_path, flavor_mirror, project)
    message = refused(env, project)
    assert message == (f"gxc: error: checksum mismatch for {TAMAGO_PATCH}: expected sha256 {'0' * 64} (the flavor "
                       f"recipe), got {TAMAGO_SHA} (hint: the download was deleted; retry, and if it persists the "
                       "mirror serves a bad archive)\n")
    assert not (Path(env["GXC_HOME"]) / "toolchains").exists()  # not even the bootstrap was fetched


def write_patch(path: Path, mirror: MirrorServer, target: str, first_line: str, expects: str = "") -> tuple[Path, str]:
    """A patch that replaces the first line of `target` in go1.25.5's source (with real context lines);
    with `expects`, it is made against a first line the file does not have, so it cannot apply."""
    with tarfile.open(mirror.state.root / f"go{BASE}.src.tar.gz") as tf:
        member = tf.extractfile(f"go/{target}")
        assert member is not None
        lines = member.read().decode().splitlines(keepends=True)
    old = [expects + "\n", *lines[1:]] if expects else lines
    diff = "".join(difflib.unified_diff(old, [first_line + "\n", *lines[1:]], f"a/{target}", f"b/{target}"))
    text = f"diff --git a/{target} b/{target}\n{diff}"
    path.write_text(text)
    return path, hashlib.sha256(text.encode()).hexdigest()


def test_a_patch_that_does_not_apply_names_the_file(flavor_mirror: MirrorServer, tmp_path: Path,
                                                    tamago_home: dict[str, str]) -> None:
    patch, sha = write_patch(tmp_path / "stale.patch", flavor_mirror, "src/cmd/dist/README", "something else",
                             expects="not what the file says")
    project = recipe_project(tmp_path / "project", patch, sha)
    env = flavor_env(tmp_path, flavor_mirror, project)
    gxc(env, "install", BOOTSTRAP)
    message = refused(env, project)
    assert message == (f"gxc: error: patch {patch} does not apply to go{BASE}: patch failed: src/cmd/dist/README:1 "
                       "(hint: is the recipe for this base version? nothing was installed)\n")


def test_a_patch_that_breaks_the_build_fails_make_bash_with_its_log(flavor_mirror: MirrorServer, tmp_path: Path,
                                                                    tamago_home: dict[str, str]) -> None:
    patch, sha = write_patch(tmp_path / "broken.patch", flavor_mirror, "src/cmd/dist/doc.go", "this is not Go")
    project = recipe_project(tmp_path / "project", patch, sha)
    env = flavor_env(tmp_path, flavor_mirror, project)
    gxc(env, "install", BOOTSTRAP)
    message = refused(env, project)
    log = Path(env["GXC_HOME"]) / "work" / f"tamago@{BASE}" / "build.log"
    assert message.startswith(f"gxc: error: make.bash failed for tamago@{BASE} (exit ")
    assert message.endswith(f"(hint: the full log is {log}; nothing was installed)\n")
    assert "doc.go" in log.read_text()


def test_a_git_fork_whose_head_is_not_the_recipes_commit_is_refused(flavor_mirror: MirrorServer,
                                                                    tmp_path: Path) -> None:
    fork = tmp_path / "fork"
    fork.mkdir()
    git = ["git", "-C", str(fork), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    (fork / "VERSION").write_text("go1.25.5\n")
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "fork"], check=True)
    subprocess.run([*git, "tag", "tamago-go1.25.5"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    project = fork_recipe_project(tmp_path / "project", f"file://{fork}", "tamago-go1.25.5")
    message = refused(fork_env(tmp_path, flavor_mirror, project), project)
    assert message == (f"gxc: error: file://{fork} at tamago-go1.25.5 is commit {head}, but the recipe in "
                       f"{project}/toolchains.toml names {'1' * 40} (hint: the tag moved, or the url is not the fork "
                       "the recipe means; nothing was installed)\n")


def test_no_bootstrap_and_offline_is_one_line(flavor_mirror: MirrorServer, tmp_path: Path) -> None:
    project = recipe_project(tmp_path / "project")
    env = flavor_env(tmp_path, flavor_mirror, project)
    gxc(env, "list-remote")  # the index is cached; nothing is installed
    message = refused(env, project, "--offline")
    assert message == ("gxc: error: no installed toolchain can bootstrap this build (it needs go1.22.6 or newer), "
                       "and --offline forbids installing one (hint: install one first: `gxc install 1.22`)\n")


def test_unknown_flavor_and_missing_recipe_are_one_line(tamago_home: dict[str, str], tmp_path: Path) -> None:
    proc = gxc(tamago_home, "install", "tamgo@1.25.5", cwd=tmp_path, check=False)
    assert (proc.returncode, proc.stderr) == (2, 'gxc: error: unknown flavor "tamgo" (hint: known flavors: tamago)\n')
    proc = gxc(tamago_home, "install", "tamago@1.22.10", cwd=tmp_path, check=False)
    assert (proc.returncode, proc.stderr) == (2, "gxc: error: flavor tamago has no recipe for go1.22.10 (hint: its "
                                                 "versions: 1.24.6, 1.25.5, 1.25.7, 1.26.0; or add "
                                                 '[flavors.tamago.versions."1.22.10"] to a trusted toolchains.toml)\n')


def test_sigint_during_make_bash_leaves_nothing_half_installed(flavor_mirror: MirrorServer, tmp_path: Path,
                                                              tamago_home: dict[str, str]) -> None:
    # a recipe of its own every run: a build an earlier run failed to interrupt is cached, and would not start
    patch, sha = write_patch(tmp_path / "comment.patch", flavor_mirror, "src/cmd/dist/README",
                             f"This program, dist, is the bootstrapping tool for the Go distribution ({uuid.uuid4()}).")
    project = recipe_project(tmp_path / "project", patch, sha)
    env = dict(flavor_env(tmp_path, flavor_mirror, project), TMPDIR=str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    gxc(env, "install", BOOTSTRAP)
    proc = subprocess.Popen([sys.executable, "-m", "gxc", "install", f"tamago@{BASE}"], cwd=project, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 600
    # interrupted while the bootstrap go writes make.bash's GOCACHE: its compilers must be stopped before it is removed
    while time.monotonic() < deadline and not list((tmp_path / "tmp").glob("gxc-make-*/cache/??/*-d")):
        time.sleep(0.05)
    assert proc.poll() is None, "the build ended before make.bash started"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert (proc.returncode, err.splitlines()[-1]) == (130, "gxc: interrupted")
    home = Path(env["GXC_HOME"])
    assert not (home / "toolchains" / f"tamago@{BASE}").exists()
    assert list((home / "staging").iterdir()) == []
    assert processes_within(home / "staging", tmp_path / "tmp") == []  # make.bash and its compilers were stopped too
    assert list((tmp_path / "tmp").iterdir()) == []  # and make.bash's GOCACHE is gone


def processes_within(*places: Path) -> list[str]:
    """The command lines of processes working in or naming a place (`go build ./cmd/dist` names none: its cwd does)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cwd = os.readlink(proc / "cwd")
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if any(cwd.startswith(str(place)) or str(place) in cmdline for place in places):
            found.append(f"{cwd}: {cmdline}")
    return found


@pytest.mark.parametrize("how", ["--from-source", "fallback"])
def test_a_plain_release_builds_from_its_source_archive(gxc_env: dict[str, str], mirror: MirrorServer,
                                                        tmp_path: Path, how: str) -> None:
    env = dict(gxc_env, GXC_BUILD_CACHE=str(BUILD_CACHE), GXC_BUILD_CACHE_KEY=build_cache_key())
    args = ["install", NEW, "--from-source"]
    if how == "fallback":  # the index lists go1.22.10's source but no binary for this host
        releases = json.loads(mirror.state.body("index.json") or b"[]")
        for release in releases:
            if release["version"] == f"go{NEW}":
                release["files"] = [f for f in release["files"] if f["kind"] == "source"]
        mirror.state.overrides["index.json"] = json.dumps(releases).encode()
        args = ["install", NEW]
    proc = gxc(env, *args, timeout=1800)
    assert proc.stdout.startswith(f"go{NEW} installed (")
    lines = proc.stderr.splitlines()
    if how == "fallback":
        assert lines[0] == f"gxc: no binary for linux/amd64: building go{NEW} from source"
    receipt = json.loads((Path(env["GXC_HOME"]) / "receipts" / f"go{NEW}.json").read_text())
    # off a terminal too, long work shows it is alive: the bootstrap it installed, and make.bash's phases
    assert f"gxc: installing go{OLD} to bootstrap the build (it needs go1.20.6 or newer); it stays installed, " \
           "and `gxc prune` removes it once nothing pins it" in lines
    if not receipt["from_build_cache"]:
        phases = [line for line in lines if line.startswith(f"gxc: {NEW}: Building Go ")]
        assert len(phases) >= 3 and all(line.endswith(" s)") for line in phases), proc.stderr
    assert (receipt["kind"], receipt["bootstrap"], receipt["source"]["filename"]) == (
        "source-build", OLD, f"go{NEW}.src.tar.gz")
    assert receipt["build_seconds"] > 0 or receipt["from_build_cache"]
    go = Path(env["GXC_HOME"]) / "toolchains" / f"go{NEW}" / "bin" / "go"
    version = subprocess.run([str(go), "version"], env=dict(env, GOROOT=str(go.parent.parent), GOTOOLCHAIN="local"),
                             capture_output=True, text=True, check=True).stdout
    assert version == f"go version go{NEW} linux/amd64\n"
    assert gxc(env, "verify", NEW).stdout == f"go{NEW}: ok\n"
    # what gxc says about it afterwards is true: built from the user's own index, not a project's [source]
    listed = gxc(env, "list").stdout
    assert f"(built from go{NEW}.src.tar.gz)" in listed and "{" not in listed and "[source]" not in listed
    rows = json.loads(gxc(env, "list", "--json").stdout)["installed"]
    assert [(r["source"], r["built_from"]) for r in rows if r["version"] == NEW] == [("user", f"go{NEW}.src.tar.gz")]
    assert "not from your own index" not in gxc(env, "doctor", check=False).stdout
    assert gxc(env, "verify", "--against-index", NEW).stdout == f"go{NEW}: ok\n"


def test_pin_lock_for_a_flavored_port_locks_every_input_of_its_build(flavor_mirror: MirrorServer,
                                                                     tmp_path: Path) -> None:
    project = recipe_project(tmp_path / "project")
    env = flavor_env(tmp_path, flavor_mirror, project)
    out = gxc(env, "pin", "--lock", BASE, "-t", "riscv64-unknown-elf", cwd=project).stdout
    source_sha = hashlib.sha256(flavor_mirror.state.body(f"go{BASE}.src.tar.gz") or b"").hexdigest()
    assert f"locked go{BASE}.src.tar.gz sha256 {source_sha}\n" in out
    assert f"locked tamago@{BASE} patch {TAMAGO_PATCH.name} sha256 {TAMAGO_SHA}\n" in out
    text = (project / "toolchains.toml").read_text()
    assert f'"tamago@{BASE} patch {TAMAGO_PATCH.name}" = "{TAMAGO_SHA}"' in text
    assert "[flavors.tamago.versions." in text  # the recipe stays


def test_a_fork_that_cannot_be_cloned_points_at_a_patches_recipe(flavor_mirror: MirrorServer, tmp_path: Path) -> None:
    project = fork_recipe_project(tmp_path / "project", f"file://{tmp_path}/no-such-fork", "v1")
    message = refused(fork_env(tmp_path, flavor_mirror, project), project)
    assert message.startswith(f"gxc: error: cannot clone file://{tmp_path}/no-such-fork at v1: ")
    assert f'give this version a patches recipe in a trusted toolchains.toml: [flavors.tamago.versions."{BASE}"]' \
           in message
