"""What a rustup or mise user expects to find: `--help` that explains each argument with an example,
completions in real bash, zsh and fish that know verbs, flags, versions and ports, and messages that
say where a problem is (issue 24)."""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path

import pytest

from tests.conftest import NEW, NEWEST, OLD, gxc


def test_every_verb_explains_its_arguments_and_shows_an_example_that_parses() -> None:
    from gxc.cli import build_parser, helptext, split_test_args

    parser = build_parser()
    found = helptext.verbs(parser)
    assert len(found) > 30
    for path, sub in found:
        unsaid = [a.dest for a in sub._actions if not a.help]
        assert unsaid == [], f"`gxc {path} --help` says nothing about {unsaid}"
        assert sub.epilog and "example: gxc " in sub.epilog, f"`gxc {path} --help` has no example"
        words = shlex.split(sub.epilog.split("example: ", 1)[1])[1:]
        words = words[:words.index("--")] if "--" in words else words
        args = parser.parse_args(split_test_args(words)[0])  # as main() does: go test's flags are go's
        assert (args.verb, *path.split()[1:2]) == tuple(path.split()[:2]), path


def test_each_verb_alone_parses_as_in_the_whole_command_line() -> None:
    """`gxc VERB` builds only its module's parser (VERB_MODULES): the table names every verb, in --help's
    order, and each verb's parser alone takes its example exactly as the whole parser does."""
    import argparse
    import importlib

    from gxc.cli import VERB_MODULES, build_parser, helptext, split_test_args

    registered: dict[str, str] = {}
    for name in dict.fromkeys(VERB_MODULES.values()):
        verbs = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(f"gxc.cli.{name}").register(verbs)
        registered.update(dict.fromkeys(verbs.choices, name))
    assert registered == VERB_MODULES and list(VERB_MODULES) == list(registered)
    whole = build_parser()
    for path, sub in helptext.verbs(whole):
        words = shlex.split(str(sub.epilog).split("example: ", 1)[1])[1:]
        words = split_test_args(words[:words.index("--")] if "--" in words else words)[0]
        alone = build_parser(path.split()[0])
        assert vars(alone.parse_args(words)) == vars(whole.parse_args(words)), path
        assert len(helptext.verbs(alone)) < len(helptext.verbs(whole))


def test_help_of_a_verb_through_the_cli(installed_home: dict[str, str]) -> None:
    out = gxc(installed_home, "install", "--help").stdout
    assert "SPEC                  1.22.10, go1.22.10, 1.22, 1.22.x, latest, 1.23rc1, or" in out
    assert out.rstrip().endswith("example: gxc install 1.22.10 tamago@1.25.5")


def _bash_candidates(env: dict[str, str], script: str, line: str) -> list[str]:
    words = line.split(" ")
    code = (f"{script}\nCOMP_WORDS=({' '.join(shlex.quote(w) for w in words)}); COMP_CWORD={len(words) - 1}\n"
            "_gxc_complete; printf '%s\\n' \"${COMPREPLY[@]}\"")
    proc = subprocess.run(["bash", "--norc", "--noprofile", "-c", code], env=env, capture_output=True, text=True,
                          check=True)
    return [w for w in proc.stdout.splitlines() if w]


def test_bash_completion_knows_verbs_flags_versions_and_ports(installed_home: dict[str, str]) -> None:
    script = gxc(installed_home, "completion", "bash").stdout
    assert _bash_candidates(installed_home, script, "gxc ins") == ["install", "inspect"]
    assert _bash_candidates(installed_home, script, "gxc build --check-") == ["--check-reproducible",
                                                                              "--check-hardening"]
    assert _bash_candidates(installed_home, script, "gxc use ") == [NEWEST, NEW, OLD]
    ports = _bash_candidates(installed_home, script, "gxc build -t riscv64-")
    assert "riscv64-unknown-elf" in ports and all(p.startswith("riscv64-") for p in ports)
    remote = _bash_candidates(installed_home, script, "gxc install ")
    assert remote[:3] == [NEWEST, NEW, OLD] and "latest" in remote  # the cached index, not the network
    assert _bash_candidates(installed_home, script, "gxc cache ") == ["list", "clean", "stats"]
    assert _bash_candidates(installed_home, script, "gxc exec -- g") == []  # after --, the command's own words


def test_zsh_and_fish_completion_in_the_real_shells(installed_home: dict[str, str]) -> None:
    zsh_script = gxc(installed_home, "completion", "zsh").stdout
    code = ("compadd() { [[ $1 == -a ]] && print -l -- ${(P)2}; }; _files() { print FILES; }\n"  # what compsys would show
            f"{zsh_script}\nwords=(gxc platform show riscv64-unknown-e); CURRENT=4; _gxc_complete\n"
            "words=(gxc trust ''); CURRENT=3; _gxc_complete")
    zsh = subprocess.run(["zsh", "-f", "-c", code], env=installed_home, capture_output=True, text=True, check=True)
    assert zsh.stdout.split() == ["riscv64-unknown-elf", "FILES"]
    fish_script = gxc(installed_home, "completion", "fish").stdout
    fish = subprocess.run(["fish", "--no-config", "-c", f"{fish_script}\ncomplete -C 'gxc uninstall 1.2'"],
                          env=installed_home, capture_output=True, text=True, check=True)
    assert sorted(fish.stdout.split()) == [OLD, NEW, NEWEST]  # fish sorts what it shows


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_init_installs_the_completion(installed_home: dict[str, str], shell: str) -> None:
    init = gxc(installed_home, "init", shell).stdout
    check = "complete -p gxc" if shell == "bash" else "print ${+functions[_gxc_complete]}"
    proc = subprocess.run([shell, "-c", f"{init}\n{check}"], env=installed_home, capture_output=True, text=True,
                          check=True)
    assert proc.stdout.strip() == ("complete -o default -F _gxc_complete gxc" if shell == "bash" else "1")


def test_an_unknown_port_in_targets_names_the_file_and_line(installed_home: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "toolchains.toml").write_text(f'[toolchain]\ngo = "{NEW}"\ntargets = ["linux-arm64", "risc64-linux"]\n')
    proc = gxc(installed_home, "build", cwd=tmp_path, check=False)
    assert (proc.returncode, proc.stderr) == (2, (
        f'gxc: error: {tmp_path}/toolchains.toml:3:1: unknown port "risc64-linux" in targets '
        "(hint: did you mean riscv64-linux, riscv64-linux-gnu, rv64-linux? `gxc platform list` shows every port)\n"))
    flag = gxc(installed_home, "build", "-t", "risc64-linux", cwd=tmp_path, check=False)
    assert flag.stderr.startswith('gxc: error: unknown port "risc64-linux" (hint: did you mean riscv64-linux')


def test_current_reports_a_pin_that_is_not_installed(installed_home: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "toolchains.toml").write_text('[toolchain]\ngo = "1.23"\n')
    proc = gxc(installed_home, "current", cwd=tmp_path)
    assert proc.stdout == (f"go1.23 (pinned by {tmp_path}/toolchains.toml): not installed\n"
                           "  note: run `gxc install 1.23`\n")
    data = json.loads(gxc(installed_home, "current", "--json", cwd=tmp_path).stdout)
    assert (data["version"], data["installed"], data["goroot"]) == ("1.23", False, None)
    installed = json.loads(gxc(installed_home, "current", "--json", "-T", NEW, cwd=tmp_path).stdout)
    assert (installed["version"], installed["installed"]) == (NEW, True)


def test_pin_force_of_an_unpublished_version_says_nothing_can_install_it(gxc_env: dict[str, str],
                                                                         tmp_path: Path) -> None:
    proc = gxc(gxc_env, "pin", "--force", "1.30", cwd=tmp_path)
    assert proc.stderr == ('gxc: warning: no Go release matches "1.30" (pinned anyway: --force)\n'
                           "gxc: note: nothing can install go 1.30 until your index lists it "
                           "(`gxc list-remote --all` shows what it has)\n")
    assert 'go = "1.30"' in (tmp_path / "toolchains.toml").read_text()


def test_doctor_with_nothing_installed_says_so(gxc_env: dict[str, str], tmp_path: Path) -> None:
    gxc(gxc_env, "reshim")
    env = dict(gxc_env, PATH=f"{gxc_env['GXC_HOME']}/shims:{gxc_env['PATH']}")
    proc = gxc(env, "doctor", cwd=tmp_path, check=False)
    assert proc.returncode == 1
    assert proc.stdout.splitlines()[-1] == ("toolchains: no Go toolchain is installed, so the shims have nothing to "
                                            "run (fix: run `gxc install latest` (or `gxc install` in a project that "
                                            "pins one))")
