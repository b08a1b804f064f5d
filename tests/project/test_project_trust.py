"""The trust boundary for project files: a cloned repository cannot run code or choose sources until trusted.

A hostile-repository tree carries each attack from issue 8 (shell injection through [env], -toolexec
through GOFLAGS from a parent directory, a forged [source], a port that shadows a built-in, a path in
`platform remove`); each is shown harmless (no file created, no variable leaked, no install changed)
until `gxc trust`, and still constrained after it where the design says so.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import NEW, OLD, gxc
from tests.helpers import write_hello_module
from tests.mirror_server import MirrorServer

pytestmark = pytest.mark.slow

WARNING = "gxc: warning: ignoring {tables} in {path}: not trusted (review it, then run `gxc trust {path}`)\n"
# A toolexec program that leaves a mark, then runs the tool it wraps: proof that a project file ran code.
TOOLEXEC = '#!/bin/sh\ntouch "$(dirname "$0")/PWNED"\nexec "$@"\n'


def shim_go(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    run_env = dict(env, PATH=f"{env['GXC_HOME']}/shims:{env['PATH']}")
    return subprocess.run(["go", *args], cwd=cwd, env=run_env, capture_output=True, text=True, timeout=300,
                          check=False)


def toolexec_project(root: Path, pin: str = NEW) -> Path:
    write_hello_module(root)
    (root / "x.sh").write_text(TOOLEXEC)
    (root / "x.sh").chmod(0o755)
    (root / "toolchains.toml").write_text(
        f'[toolchain]\ngo = "{pin}"\n\n[env]\nGOFLAGS = "-toolexec={root}/x.sh"\nPROJECT_MARK = "set"\n')
    return root


def test_untrusted_env_does_not_run_code_and_warns_once(own_home: dict[str, str], tmp_path: Path) -> None:
    app = toolexec_project(tmp_path / "app")
    proc = shim_go(own_home, app, "build", "-o", "hello", ".")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == WARNING.format(tables="[env]", path=app / "toolchains.toml")
    assert not (app / "PWNED").exists()
    env = json.loads(gxc(own_home, "env", "--shell", "json", cwd=app).stdout)
    assert "PROJECT_MARK" not in env
    assert "GOFLAGS" not in env


def test_trust_applies_the_env_and_any_edit_revokes_it(own_home: dict[str, str], tmp_path: Path) -> None:
    app = toolexec_project(tmp_path / "app")
    pin = app / "toolchains.toml"
    out = gxc(own_home, "trust", cwd=app).stdout
    assert out.startswith(f"trusted {pin} (sha256 ")
    proc = shim_go(own_home, app, "build", "-o", "hello", ".")
    assert (proc.returncode, proc.stderr) == (0, "")
    assert (app / "PWNED").exists()  # trusted: the project's GOFLAGS did apply
    (app / "PWNED").unlink()
    pin.write_text(pin.read_text() + "# edited after the review\n")
    proc = shim_go(own_home, app, "build", "-a", "-o", "hello", ".")
    assert proc.stderr == WARNING.format(tables="[env]", path=pin)
    assert not (app / "PWNED").exists()
    shown = gxc(own_home, "trust", cwd=app).stdout
    assert shown.splitlines()[:6] == [f"changes since you last trusted {pin}:", "--- last trusted", "+++ now",
                                      "@@ -4,3 +4,4 @@", " [env]", ' GOFLAGS = "-toolexec=' + f'{app}/x.sh"']
    assert "+# edited after the review" in shown.splitlines()


def test_env_from_a_parent_directory_is_ignored_until_trusted(own_home: dict[str, str], tmp_path: Path) -> None:
    """The walk up from a module without a pin reaches a toolchains.toml someone else left above it."""
    parent = toolexec_project(tmp_path / "shared")
    (parent / "go.mod").unlink()
    (parent / "main.go").unlink()
    module = write_hello_module(parent / "mine", go_line="1.21")
    proc = shim_go(own_home, module, "build", "-o", "hello", ".")
    assert (proc.returncode, proc.stderr) == (0, WARNING.format(tables="[env]", path=parent / "toolchains.toml"))
    assert not (parent / "PWNED").exists()


@pytest.mark.parametrize("name", ["A=1; touch PWNED; B", "LD_PRELOAD", "DYLD_INSERT_LIBRARIES", "GXC_HOME",
                                  "GOROOT", "GOTOOLCHAIN", "PATH", "1ABC", "A B", "A-B", ""])
def test_env_names_are_checked_even_when_trusted(own_home: dict[str, str], tmp_path: Path, name: str) -> None:
    app = tmp_path / "app"
    app.mkdir()
    quoted = json.dumps(name)
    (app / "toolchains.toml").write_text(f'[toolchain]\ngo = "{NEW}"\n[env]\nOK = "1"\n{quoted} = "x"\n')
    env = dict(own_home, GXC_TRUSTED_PATHS=str(app))
    for args in (["env"], ["env", "--shell", "fish"], ["current"], ["trust"]):
        proc = gxc(env, *args, cwd=app, check=False)
        assert proc.returncode == 2
        assert proc.stdout == ""
        assert proc.stderr.startswith(f"gxc: error: {app}/toolchains.toml:5:1: [env] {quoted} ")
        assert len(proc.stderr.splitlines()) == 1
    assert list(app.iterdir()) == [app / "toolchains.toml"]  # nothing ran, nothing was written


def test_trusted_paths_from_the_environment_trust_a_ci_checkout(own_home: dict[str, str], tmp_path: Path) -> None:
    app = toolexec_project(tmp_path / "ci" / "checkout")
    env = dict(own_home, GXC_TRUSTED_PATHS=f"/nonexistent:{tmp_path / 'ci'}")
    proc = shim_go(env, app, "build", "-o", "hello", ".")
    assert (proc.returncode, proc.stderr) == (0, "")
    assert (app / "PWNED").exists()


def test_untrust_beats_the_allow_list_and_a_record(own_home: dict[str, str], tmp_path: Path) -> None:
    app = toolexec_project(tmp_path / "app")
    gxc(own_home, "trust", str(app), cwd=tmp_path)
    assert gxc(own_home, "untrust", cwd=app).stdout == (
        f"untrusted {app}/toolchains.toml: its [env], [source], ports and flavors are ignored until `gxc trust`\n")
    env = dict(own_home, GXC_TRUSTED_PATHS=str(app))
    proc = shim_go(env, app, "build", "-o", "hello", ".")
    assert proc.stderr == (f"gxc: warning: ignoring [env] in {app}/toolchains.toml: untrusted with `gxc untrust` "
                           f"(review it, then run `gxc trust {app}/toolchains.toml`)\n")
    assert not (app / "PWNED").exists()


def test_group_writable_directory_is_never_trusted_implicitly(own_home: dict[str, str], tmp_path: Path) -> None:
    app = toolexec_project(tmp_path / "app")
    app.chmod(0o777)
    env = dict(own_home, GXC_TRUSTED_PATHS=str(tmp_path))
    current = gxc(env, "current", cwd=app)
    assert current.stdout == (f"go{NEW} (pinned by {app}/toolchains.toml)\n"
                              f"  {app}/toolchains.toml is not trusted ({app} is writable by group or others, so no "
                              "allow-list applies): ignoring [env]\n")
    trusted = gxc(env, "trust", cwd=app)
    assert trusted.stderr == f"gxc: warning: {app} is writable by group or others; others can change what you trust now\n"
    assert gxc(env, "current", cwd=app).stdout == f"go{NEW} (pinned by {app}/toolchains.toml)\n" \
        f"  {app}/toolchains.toml is trusted with `gxc trust`\n"


def test_trust_follows_the_canonical_path_through_symlinks(own_home: dict[str, str], tmp_path: Path) -> None:
    app = toolexec_project(tmp_path / "real")
    (tmp_path / "link").symlink_to(app)
    gxc(own_home, "trust", str(tmp_path / "link" / "toolchains.toml"), cwd=tmp_path)
    for where in (app, tmp_path / "link"):
        env = json.loads(gxc(own_home, "env", "--shell", "json", cwd=where).stdout)
        assert env["PROJECT_MARK"] == "set"
    shown = json.loads(gxc(own_home, "trust", "--show", "--json", cwd=tmp_path).stdout)
    assert [(r["path"], r["status"]) for r in shown["records"]] == [(str(app / "toolchains.toml"), "current")]


def test_trust_records_are_private_and_prune_drops_changed_and_missing(own_home: dict[str, str], tmp_path: Path) -> None:
    kept, changed, gone = (toolexec_project(tmp_path / n) for n in ("kept", "changed", "gone"))
    for app in (kept, changed, gone):
        gxc(own_home, "trust", str(app), cwd=tmp_path)
    trust_dir = Path(own_home["GXC_HOME"]) / "state" / "trust"
    assert oct(trust_dir.stat().st_mode & 0o777) == "0o700"
    assert {oct(p.stat().st_mode & 0o777) for p in (trust_dir / "allow").iterdir()} == {"0o600"}
    (changed / "toolchains.toml").write_text("[toolchain]\n")
    (gone / "toolchains.toml").unlink()
    show = gxc(own_home, "trust", "--show", cwd=tmp_path).stdout.splitlines()
    assert sorted(line.split()[0] + " " + line.split()[-1] for line in show) == [
        f"changed {changed}/toolchains.toml", f"current {kept}/toolchains.toml", f"missing {gone}/toolchains.toml"]
    pruned = gxc(own_home, "trust", "--prune", cwd=tmp_path).stdout.splitlines()
    assert sorted(pruned[:-1]) == [f"dropped {changed}/toolchains.toml (changed)",
                                   f"dropped {gone}/toolchains.toml (missing)"]
    assert pruned[-1] == "2 record(s) dropped"
    assert [line.split()[0] for line in gxc(own_home, "trust", "--show", cwd=tmp_path).stdout.splitlines()] == ["current"]


def test_pin_keeps_a_trusted_file_trusted_after_its_own_edit(own_home: dict[str, str], tmp_path: Path) -> None:
    app = toolexec_project(tmp_path / "app")
    gxc(own_home, "trust", cwd=app)
    gxc(own_home, "pin", OLD, cwd=app)
    current = gxc(own_home, "current", cwd=app)
    assert current.stdout == f"go{OLD} (pinned by {app}/toolchains.toml)\n  {app}/toolchains.toml is trusted with `gxc trust`\n"
    assert current.stderr == ""


def forged_index(mirror: MirrorServer, version: str, sha: str) -> None:
    """Serve /forged.json: the real index with one archive's sha256 replaced."""
    releases = json.loads(mirror.state.body("index.json") or b"[]")
    for release in releases:
        for f in release["files"]:
            if release["version"] == f"go{version}":
                f["sha256"] = sha
    mirror.state.overrides["forged.json"] = json.dumps(releases).encode()


def test_project_source_cannot_redefine_a_release(gxc_env: dict[str, str], mirror: MirrorServer,
                                                  tmp_path: Path) -> None:
    """A trusted project's index that disagrees with the user's is refused, unless the user says otherwise."""
    bogus = "ab" * 32
    forged_index(mirror, OLD, bogus)
    app = tmp_path / "app"
    app.mkdir()
    (app / "toolchains.toml").write_text(f'[toolchain]\ngo = "{OLD}"\n[source]\nindex = "{mirror.url}/forged.json"\n')
    env = {k: v for k, v in gxc_env.items() if k != "GXC_INDEX_URL"}  # the user's index comes from config.toml
    config = Path(env["GXC_HOME"]) / "config" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'[source]\nindex = "{mirror.url}/index.json"\n')
    untrusted = gxc(env, "install", cwd=app, check=False)  # [source] ignored: the user's own index decides
    assert untrusted.returncode == 0, untrusted.stderr
    assert untrusted.stderr == WARNING.format(tables="[source]", path=app / "toolchains.toml")
    assert json.loads(gxc(env, "list", "--json").stdout)["installed"][0]["source"] == "user"
    gxc(env, "uninstall", OLD)
    gxc(env, "trust", cwd=app)
    refused = gxc(env, "install", cwd=app, check=False)
    real = json.loads(mirror.state.body("index.json") or b"[]")
    real_sha = next(f["sha256"] for r in real for f in r["files"] if r["version"] == f"go{OLD}")
    assert (refused.returncode, refused.stdout) == (1, "")
    assert refused.stderr == (
        f"gxc: error: refusing go{OLD} from the [source] of {app}/toolchains.toml: its index says sha256 {bogus}, "
        f"your own index ({mirror.url}/index.json) says {real_sha} (hint: a project's source may not redefine a "
        "release for every project; pass --allow-source-mismatch to install it anyway (the receipt records it))\n")
    assert not (Path(env["GXC_HOME"]) / "toolchains" / f"go{OLD}").exists()


def test_allowed_source_mismatch_is_recorded_listed_and_flagged(gxc_env: dict[str, str], mirror: MirrorServer,
                                                                tmp_path: Path) -> None:
    real = json.loads(mirror.state.body("index.json") or b"[]")
    real_sha = next(f["sha256"] for r in real for f in r["files"] if r["version"] == f"go{OLD}")
    forged_index(mirror, OLD, real_sha)  # same bytes, but the project chose the index: identity is still recorded
    app = tmp_path / "app"
    app.mkdir()
    (app / "toolchains.toml").write_text(f'[toolchain]\ngo = "{OLD}"\n[source]\nindex = "{mirror.url}/forged.json"\n')
    env = {k: v for k, v in gxc_env.items() if k != "GXC_INDEX_URL"}
    config = Path(env["GXC_HOME"]) / "config" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'[source]\nindex = "{mirror.url}/index.json"\n')
    gxc(env, "trust", cwd=app)
    gxc(env, "install", "--allow-source-mismatch", cwd=app)
    receipt = json.loads((Path(env["GXC_HOME"]) / "receipts" / f"go{OLD}.json").read_text())
    assert (receipt["source"], receipt["source_mismatch_allowed"]) == (f"project {app}/toolchains.toml", True)
    assert gxc(env, "list", cwd=tmp_path).stdout.endswith(f"(from the [source] of {app}/toolchains.toml)\n")
    doctor = json.loads(gxc(env, "doctor", "--json", cwd=tmp_path, check=False).stdout)
    assert [p["check"] for p in doctor["problems"] if p["check"] == "source"] == ["source"]
    assert gxc(env, "verify", "--against-index", OLD, cwd=tmp_path).stdout == f"go{OLD}: ok\n"
    # now the user's own index disagrees with what is installed: verify --against-index says so
    forged_index(mirror, OLD, "cd" * 32)
    config.write_text(f'[source]\nindex = "{mirror.url}/forged.json"\n')
    proc = gxc(env, "verify", "--against-index", OLD, cwd=tmp_path, check=False)
    assert (proc.returncode, proc.stdout) == (1, f"go{OLD}: drifted\n  index    go{OLD}.linux-amd64.tar.gz: "
                                                 f"installed from sha256 {real_sha}, your index says {'cd' * 32}\n")


def test_project_port_shadowing_a_builtin_needs_trust(own_home: dict[str, str], tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "toolchains.toml").write_text(
        f'[toolchain]\ngo = "{NEW}"\n[platforms.riscv64-unknown-elf]\ngoos = "linux"\ngoarch = "riscv64"\n'
        f'[platforms.riscv64-unknown-elf.runner]\ncandidates = [["sh", "-c", "touch {app}/PWNED"]]\n')
    untrusted = gxc(own_home, "platform", "show", "riscv64-unknown-elf", cwd=app)
    assert untrusted.stdout.startswith("# riscv64-unknown-elf from ")
    assert "toolchains.toml" not in untrusted.stdout.splitlines()[0]
    assert untrusted.stderr == WARNING.format(tables="[platforms]", path=app / "toolchains.toml")
    gxc(own_home, "trust", cwd=app)
    listing = gxc(own_home, "platform", "list", cwd=app).stdout
    row = next(line for line in listing.splitlines() if line.strip().startswith("riscv64-unknown-elf "))
    assert "(shadows built-in from " in row
    assert row.endswith(f"; defined in {app}/toolchains.toml)")
    assert not (app / "PWNED").exists()


@pytest.mark.parametrize("name", ["../../settings", "..", "a/b", "/etc/passwd", ".hidden"])
def test_platform_remove_takes_only_names_of_ports_it_added(own_home: dict[str, str], tmp_path: Path,
                                                            name: str) -> None:
    home = Path(own_home["GXC_HOME"])
    settings = (home / "settings.toml").read_text()
    (home / "config" / "platforms").mkdir(parents=True)
    proc = gxc(own_home, "platform", "remove", name, cwd=tmp_path, check=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith("gxc: error: ")
    assert len(proc.stderr.splitlines()) == 1
    assert (home / "settings.toml").read_text() == settings


def test_platform_remove_does_not_delete_a_file_it_did_not_add(own_home: dict[str, str], tmp_path: Path) -> None:
    ports = Path(own_home["GXC_HOME"]) / "config" / "platforms"
    ports.mkdir(parents=True)
    (ports / "mine.toml").write_text('name = "mine"\ngoos = "linux"\ngoarch = "arm64"\n')  # placed by hand
    proc = gxc(own_home, "platform", "remove", "mine", cwd=tmp_path, check=False)
    assert (proc.returncode, proc.stderr) == (2, "gxc: error: mine is not a port you added with `gxc platform add` "
                                                 "(hint: built-in and project ports cannot be removed)\n")
    assert (ports / "mine.toml").exists()
    added = tmp_path / "other.toml"
    added.write_text('name = "other"\ngoos = "linux"\ngoarch = "arm64"\n')
    gxc(own_home, "platform", "add", str(added), cwd=tmp_path)
    assert gxc(own_home, "platform", "remove", "other", cwd=tmp_path).stdout == "removed port other\n"
    assert not (ports / "other.toml").exists()


def test_platform_add_refuses_a_name_that_is_a_path(own_home: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "../../escape"\ngoos = "linux"\ngoarch = "arm64"\n')
    proc = gxc(own_home, "platform", "add", str(bad), cwd=tmp_path, check=False)
    assert (proc.returncode, proc.stderr) == (2, f'gxc: error: {bad}:1:1: "../../escape" is not a port name (letters, '
                                                 "digits, '.', '_', '+', '-'; no path separators, not starting with "
                                                 "'.' or '-') (hint: fix the port file and try again)\n")
    assert not (Path(own_home["GXC_HOME"]).parent / "escape.toml").exists()
    assert not os.path.exists(Path(own_home["GXC_HOME"]) / "config" / "platforms" / "escape.toml")


def test_a_file_owned_by_another_user_is_never_trusted_implicitly(own_home: dict[str, str], tmp_path: Path) -> None:
    app = toolexec_project(tmp_path / "theirs")
    os.chown(app / "toolchains.toml", 12345, 12345)  # root can hand the file to another account
    env = dict(own_home, GXC_TRUSTED_PATHS=str(tmp_path))
    proc = shim_go(env, app, "build", "-o", "hello", ".")
    assert proc.stderr == (f"gxc: warning: ignoring [env] in {app}/toolchains.toml: not trusted ({app}/toolchains.toml "
                           "is owned by uid 12345, not by you, so no allow-list applies) (review it, then run "
                           f"`gxc trust {app}/toolchains.toml`)\n")
    assert not (app / "PWNED").exists()
    assert gxc(env, "trust", cwd=app).stderr == (f"gxc: warning: {app}/toolchains.toml is owned by uid 12345, not by "
                                                 "you; others can change what you trust now\n")
