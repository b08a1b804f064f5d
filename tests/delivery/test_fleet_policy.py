"""Staying patched and fleet policy, against a real index with two patch releases of one line."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.conftest import BASE, BOOTSTRAP, EARLIER, base_env, gxc
from tests.helpers import write_hello_module
from tests.mirror_server import MirrorServer

pytestmark = pytest.mark.slow


@pytest.fixture
def env(tmp_path: Path, patch_line_mirror: MirrorServer) -> dict[str, str]:
    env = base_env(tmp_path, patch_line_mirror)
    Path(env["HOME"]).mkdir()
    return dict(env, GXC_TRUSTED_PATHS=str(tmp_path))


def pinned(root: Path, env: dict[str, str], version: str, lock: bool = False) -> Path:
    root.mkdir(parents=True)
    gxc(env, "pin", *(["--lock"] if lock else []), version, cwd=root)
    return root


def test_outdated_lists_exact_pins_behind_their_line_and_upgrade_moves_them(env: dict[str, str],
                                                                            tmp_path: Path) -> None:
    behind = pinned(tmp_path / "behind", env, EARLIER, lock=True)
    toml = behind / "toolchains.toml"
    toml.write_text("# the firmware's toolchain: keep this comment\n" + toml.read_text())
    pinned(tmp_path / "current", env, BOOTSTRAP)  # the newest 1.22 in this index
    pinned(tmp_path / "floating", env, "1.25")  # a spec follows its line by itself
    dotfile = tmp_path / "dotfile"
    dotfile.mkdir()
    (dotfile / ".go-version").write_text(f"{EARLIER}\n")
    out = gxc(env, "outdated", cwd=dotfile).stdout
    assert sorted(out.splitlines()) == sorted([f"go{EARLIER} -> go{BASE}  ({toml})",
                                              f"go{EARLIER} -> go{BASE}  ({dotfile / '.go-version'})"])
    report = json.loads(gxc(env, "outdated", "--json", cwd=tmp_path).stdout)
    assert report == {"outdated": [{"where": str(toml), "pinned": EARLIER, "newest": BASE}]}

    proc = gxc(env, "upgrade", str(behind), check=False)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == f"gxc: error: {toml} locks go{EARLIER}: upgrading its pin would leave the lock behind " \
                          "(hint: run `gxc upgrade --lock` to lock the new version)\n"
    upgraded = gxc(env, "upgrade", "--lock", str(behind)).stdout.splitlines()
    assert upgraded[0] == f"upgraded go{EARLIER} -> go{BASE} in {toml}"
    assert upgraded[1].startswith(f"locked go{BASE}.linux-amd64.tar.gz sha256 ")
    text = toml.read_text()
    assert text.startswith("# the firmware's toolchain: keep this comment\n")
    assert f'go = "{BASE}"' in text and EARLIER not in text
    assert gxc(env, "upgrade", cwd=tmp_path / "current").stdout == \
        f"go{BOOTSTRAP} in {tmp_path / 'current' / 'toolchains.toml'} is the newest patch of go1.22\n"
    assert gxc(env, "upgrade", cwd=dotfile).stdout == f"upgraded go{EARLIER} -> go{BASE} in {dotfile / '.go-version'}\n"
    assert (dotfile / ".go-version").read_text() == f"{BASE}\n"
    assert gxc(env, "outdated", cwd=tmp_path).stdout == "every pin is on the newest patch of its line\n"


def policy_file(path: Path, body: str) -> Path:
    path.write_text("[policy]\n" + body)
    return path


def seen_days_ago(env: dict[str, str], version: str, days: int) -> None:
    """This machine first saw `version` in its index `days` ago (the index carries no release dates)."""
    state = Path(env["GXC_HOME"]) / "state"
    state.mkdir(parents=True, exist_ok=True)
    (state / "index-first-seen.json").write_text(json.dumps({version: time.time() - days * 86400}))


def policy_problems(env: dict[str, str], cwd: Path, policy: Path) -> tuple[int, list[str]]:
    proc = gxc(env, "doctor", "--json", "--policy", str(policy), cwd=cwd, check=False)
    report = json.loads(proc.stdout)
    return proc.returncode, [p["message"] for p in report["problems"] if p["check"] == "policy"]


def test_policy_violations_are_one_line_each_and_a_violating_build_writes_nothing(env: dict[str, str],
                                                                                    tmp_path: Path) -> None:
    app = write_hello_module(tmp_path / "app")
    gxc(env, "pin", EARLIER, "-t", "riscv64-linux-gnu", "-t", "riscv64-unknown-elf", cwd=app)
    policy = policy_file(tmp_path / "fleet.toml", '''go = [">=1.22.10,<1.23", "1.24.11"]
require_lock = true
ports = ["riscv64-linux", "riscv64-unknown-elf"]
cgo = false
hardening = "strict"
flavors = []
max_patch_lag_days = 30
''')
    seen_days_ago(env, BASE, 40)
    code, problems = policy_problems(env, app, policy)
    assert code == 1
    assert problems == [
        f"go{EARLIER} is not an allowed version (policy.go: >=1.22.10,<1.23, 1.24.11)",
        f"go{EARLIER} lags go{BASE} by 40 days (policy.max_patch_lag_days: 30)",
        f"go{EARLIER} is not locked in {app / 'toolchains.toml'} (policy.require_lock)",
        "port riscv64-linux-gnu is not allowed (policy.ports: riscv64-linux, riscv64-unknown-elf)",
        "port riscv64-linux-gnu builds with cgo (policy.cgo = false)",
        'port riscv64-linux-gnu has hardening "default", policy asks "strict"',
        'port riscv64-unknown-elf has hardening "default", policy asks "strict"',
        "port riscv64-unknown-elf builds with the tamago flavor (policy.flavors: none)",
    ]
    proc = gxc(env, "build", "--policy", str(policy), "-t", "riscv64-linux-gnu", cwd=app, check=False)
    assert (proc.returncode, proc.stdout) == (1, "")
    lines = proc.stderr.splitlines()
    assert lines[0] == f"gxc: policy: go{EARLIER} is not an allowed version (policy.go: >=1.22.10,<1.23, 1.24.11)"
    assert lines[-1] == 'gxc: error: policy: port riscv64-linux-gnu has hardening "default", policy asks "strict" ' \
                        f"(hint: nothing was built; bring the project within {policy})"
    assert len(lines) == 6 and not (app / "dist").exists()


def test_a_compliant_project_builds_and_doctor_finds_nothing_against_the_policy(env: dict[str, str],
                                                                               tmp_path: Path) -> None:
    app = write_hello_module(tmp_path / "app")
    gxc(env, "pin", "--lock", BOOTSTRAP, "-t", "riscv64-linux", cwd=app)
    gxc(env, "install", BOOTSTRAP, cwd=app)
    policy = policy_file(tmp_path / "fleet.toml", f'''go = ["{BOOTSTRAP}"]
require_lock = true
ports = ["riscv64-linux"]
cgo = false
hardening = "default"
max_patch_lag_days = 30
''')
    assert policy_problems(env, app, policy)[1] == []
    out = gxc(env, "build", "--policy", str(policy), cwd=app).stdout
    assert out == "riscv64-linux: dist/riscv64-linux/hello\n"
    config = Path(env["GXC_HOME"]) / "config"  # the same table in config.toml applies without --policy
    config.mkdir(parents=True, exist_ok=True)
    (config / "config.toml").write_text('[policy]\ngo = ["1.24.11"]\n')
    proc = gxc(env, "build", cwd=app, check=False)
    assert proc.stderr == f"gxc: error: policy: go{BOOTSTRAP} is not an allowed version (policy.go: 1.24.11) " \
                          f"(hint: nothing was built; bring the project within {config / 'config.toml'})\n"


def test_a_policy_with_an_unknown_key_or_a_bad_value_is_one_line_with_its_place(env: dict[str, str],
                                                                                 tmp_path: Path) -> None:
    policy = policy_file(tmp_path / "fleet.toml", 'go = ["1.22.10"]\ncolour = "blue"\n')
    proc = gxc(env, "doctor", "--policy", str(policy), cwd=tmp_path, check=False)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith(f"gxc: error: {policy}:3:1: unknown key policy.colour")
    policy_file(policy, 'go = ["1.22.x.y"]\n')
    proc = gxc(env, "doctor", "--policy", str(policy), cwd=tmp_path, check=False)
    assert proc.stderr.startswith(f'gxc: error: {policy}:2:1: policy.go entry "1.22.x.y" is not a version')
    policy_file(policy, 'hardening = "maximum"\n')
    proc = gxc(env, "doctor", "--policy", str(policy), cwd=tmp_path, check=False)
    assert proc.stderr.startswith(f'gxc: error: {policy}:2:1: policy.hardening "maximum" is not a level')
