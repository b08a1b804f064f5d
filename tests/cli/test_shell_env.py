"""What gxc prints for shells, evaluated by real bash, zsh and fish; and the activate hook in real interactive shells.

Hostile values from a trusted project's [env] must arrive byte for byte, and nothing in them may run.
Activate mode must leave the shell as it found it when leaving a project (a -> b -> c -> elsewhere),
fire by itself (PROMPT_COMMAND, precmd, fish events), say errors once per directory change and keep
its stamp file in a private directory.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import NEW, NEWEST, OLD, gxc

pytestmark = pytest.mark.slow
SHELLS = ["bash", "zsh", "fish"]
HOSTILE = ["plain", "it's", 'say "hi"', "back\\slash", "\\'", "$(touch PWNED)", "`touch PWNED`", "a;touch PWNED",
           "new\nline", "tab\there", "$HOME", "${HOME}", "%s %n", "trailing\\", "ünïcødé ✓", "*", "~", "!!", "-e",
           "", " spaces ", "{a,b}", "'\\''", "\\\\'\\", "$'x'", "x\\$y", '"; touch PWNED; "']
DUMP = "import json, os, sys; print(json.dumps({k: os.environ.get(k) for k in sys.argv[1:]}))"


def require(shell: str) -> None:
    if not shutil.which(shell):
        pytest.fail(f"{shell} is missing: scripts/install-system-deps installs it")


def hostile_project(root: Path) -> dict[str, str]:
    root.mkdir(parents=True)
    values = {f"HOSTILE_{i}": v for i, v in enumerate(HOSTILE)}
    body = "".join(f"{k} = {json.dumps(v, ensure_ascii=False)}\n" for k, v in values.items())
    (root / "toolchains.toml").write_text(f'[toolchain]\ngo = "{NEW}"\n[env]\n{body}', encoding="utf-8")
    return values


@pytest.mark.parametrize("shell", SHELLS)
def test_hostile_env_values_arrive_intact_in_every_shell(installed_home: dict[str, str], tmp_path: Path,
                                                         shell: str) -> None:
    require(shell)
    app = tmp_path / "app"
    values = hostile_project(app)
    env = dict(installed_home, GXC_TRUSTED_PATHS=str(app), LANG="C.UTF-8")
    printed = gxc(env, "env", "--shell", shell, cwd=app).stdout
    (tmp_path / "env.out").write_text(printed, encoding="utf-8")
    load = f"source {tmp_path / 'env.out'}" if shell == "fish" else f". {tmp_path / 'env.out'}"
    keys = " ".join(values)
    proc = subprocess.run([shell, "-c", f"{load}; {sys.executable} -c '{DUMP}' {keys} GOROOT"], cwd=app, env=env,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {**values, "GOROOT": f"{installed_home['GXC_HOME']}/toolchains/go{NEW}"}
    assert not (app / "PWNED").exists()
    assert not (tmp_path / "PWNED").exists()


def interactive(shell: str, tmp_path: Path, env: dict[str, str], lines: list[str]) -> subprocess.CompletedProcess[str]:
    """Run `lines` in a real interactive shell whose rc file activates gxc, so its prompt hooks fire by themselves."""
    init = f"{sys.executable} -m gxc init {shell} --activate"
    env = dict(env)
    if shell == "bash":
        rc = tmp_path / "bashrc"
        rc.write_text(f'eval "$({init})"\n')
        argv = ["bash", "--noprofile", "--rcfile", str(rc), "-i"]
    elif shell == "zsh":
        (tmp_path / "zdot").mkdir()
        (tmp_path / "zdot" / ".zshrc").write_text(f'eval "$({init})"\n')
        env["ZDOTDIR"] = str(tmp_path / "zdot")
        argv = ["zsh", "-i"]
    else:
        (tmp_path / "xdg" / "fish").mkdir(parents=True)
        (tmp_path / "xdg" / "fish" / "config.fish").write_text(f"{init} | source\n")
        env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")
        argv = ["script", "-qec", "fish -i", "/dev/null"]  # fish fires fish_prompt only on a terminal
    return subprocess.run(argv, input="\n".join([*lines, "exit"]) + "\n", env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=False)


def snapshot(tmp_path: Path, name: str) -> str:
    keys = "FOO GOROOT GOPATH GOFLAGS GXC_ACTIVE_TOOLCHAIN PATH"
    return f"{sys.executable} -c '{DUMP}' {keys} > {tmp_path / name}.json"


def read_snapshot(tmp_path: Path, name: str) -> dict[str, str | None]:
    data: dict[str, str | None] = json.loads((tmp_path / f"{name}.json").read_text())
    return data


@pytest.mark.parametrize("shell", SHELLS)
def test_activate_restores_the_shell_when_leaving_projects(own_home: dict[str, str], tmp_path: Path,
                                                           shell: str) -> None:
    require(shell)
    home = own_home["GXC_HOME"]
    (Path(home) / "settings.toml").unlink()  # no default: outside the projects gxc sets nothing
    a, b, c = (tmp_path / n for n in "abc")
    for root, version, flags in ((a, NEW, "-tags=a"), (b, NEWEST, "-tags=b"), (c, OLD, "")):
        root.mkdir()
        env_table = f'[env]\nFOO = "from {root.name}"\nGOFLAGS = "{flags}"\n' if flags else ""
        (root / "toolchains.toml").write_text(f'[toolchain]\ngo = "{version}"\n{env_table}')
    outside = tmp_path / "outside"
    outside.mkdir()
    env = dict(own_home, GXC_TRUSTED_PATHS=str(tmp_path), FOO="mine", TERM="dumb")
    setfoo = "set -gx FOO mine" if shell == "fish" else "export FOO=mine"
    proc = interactive(shell, tmp_path, env, [
        f"cd {outside}", setfoo, snapshot(tmp_path, "before"),
        f"cd {a}", snapshot(tmp_path, "a"),
        f"cd {b}", snapshot(tmp_path, "b"),
        f"cd {c}", snapshot(tmp_path, "c"),
        f"cd {outside}", snapshot(tmp_path, "after"),
    ])
    assert (tmp_path / "after.json").exists(), proc.stdout + proc.stderr
    before, after = read_snapshot(tmp_path, "before"), read_snapshot(tmp_path, "after")
    assert after == before
    assert before["GOROOT"] is None
    expected: list[tuple[str, str, str, str | None]] = [("a", NEW, "from a", "-tags=a"),
                                                         ("b", NEWEST, "from b", "-tags=b"), ("c", OLD, "mine", None)]
    for name, version, foo, goflags in expected:
        seen = read_snapshot(tmp_path, name)
        assert (seen["GOROOT"], seen["FOO"], seen["GOFLAGS"]) == (f"{home}/toolchains/go{version}", foo, goflags)
        path = seen["PATH"] or ""
        assert path.split(":")[:2] == [f"{home}/toolchains/go{version}/bin", f"{home}/bin"]
        assert path.count("/toolchains/") == 1  # the previous project's entries were removed, not stacked


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_activate_reports_errors_once_per_directory_change_and_notices_edits(
        own_home: dict[str, str], tmp_path: Path, shell: str) -> None:
    require(shell)
    app = tmp_path / "app"
    app.mkdir()
    (app / ".go-version").write_text("1.19.3\n")  # not installed
    env = dict(own_home, TERM="dumb")
    proc = interactive(shell, tmp_path, env, [
        f"cd {app}", "true", "true",  # three prompts in the same directory: one error
        f"cd {tmp_path}", f"cd {app}",  # a directory change: the error again
        f"sleep 1; echo {NEW} > {app}/.go-version", "true",  # an edited pin file is noticed without cd
        snapshot(tmp_path, "edited"),
    ])
    errors = [line for line in proc.stderr.splitlines() if "gxc: error:" in line]
    assert errors == ["gxc: error: go1.19.3 is not installed (pinned by " + f"{app}/.go-version) "
                      "(hint: run `gxc install 1.19.3`)"] * 2
    assert read_snapshot(tmp_path, "edited")["GOROOT"] == f"{own_home['GXC_HOME']}/toolchains/go{NEW}"


def test_activate_keeps_its_stamp_private_and_removes_it(installed_home: dict[str, str], tmp_path: Path) -> None:
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    env = dict(installed_home, XDG_RUNTIME_DIR=str(runtime), TERM="dumb")
    proc = interactive("bash", tmp_path, env, [f"ls -ld {runtime}/gxc > {tmp_path}/mode; ls {runtime}/gxc > "
                                                f"{tmp_path}/stamps"])
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "mode").read_text().startswith("drwx------")
    assert (tmp_path / "stamps").read_text().startswith("stamp.")
    assert list((runtime / "gxc").iterdir()) == []  # removed when the shell exited


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_untrusted_warning_shows_once_per_shell(own_home: dict[str, str], tmp_path: Path, shell: str) -> None:
    require(shell)
    app = tmp_path / "app"
    (app / "sub").mkdir(parents=True)
    (app / "toolchains.toml").write_text(f'[toolchain]\ngo = "{NEW}"\n[env]\nFOO = "x"\n')
    proc = interactive(shell, tmp_path, dict(own_home, TERM="dumb"),
                       [f"cd {app}", f"cd {app}/sub", f"cd {app}", snapshot(tmp_path, "seen")])
    warnings = [line for line in proc.stderr.splitlines() if "gxc: warning:" in line]
    assert len(warnings) == 1, proc.stderr
    assert read_snapshot(tmp_path, "seen")["FOO"] is None


def test_hook_env_is_light(installed_home: dict[str, str], tmp_path: Path) -> None:
    """Not a benchmark (scripts/bench-shim is): the hook's recompute imports neither argparse nor tomllib."""
    (tmp_path / "toolchains.toml").write_text(f'[toolchain]\ngo = "{NEW}"\n')
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from gxc.hookenv import main; main(); "
            "print(sorted(m for m in sys.modules if m in ('argparse', 'tomllib', 'json', 'hashlib', 'requests')))")
    root = str(Path(__file__).resolve().parents[2])
    proc = subprocess.run([sys.executable, "-I", "-S", "-c", code, root, "bash", ""], cwd=tmp_path,
                          env=dict(installed_home), capture_output=True, text=True, check=True)
    assert proc.stdout.splitlines()[-1] == "[]"
    assert proc.stdout.splitlines()[0].startswith("export ")
