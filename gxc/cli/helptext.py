"""What `--help` says about arguments the verbs share, and one example per verb.

The verb modules register their options; `describe` then fills what they left unsaid: an argument
without help gets its common description (SPEC, VERSION, PORT, --json...), and each verb's help ends
with one example. `tests/cli/test_help.py` parses every example with the real parser.
"""

from __future__ import annotations

import argparse

SPEC = "a Go version: exact (1.22.10), a minor (1.22: its newest patch), latest, or a flavor (tamago@1.25.5)"
INSTALLED = "an installed toolchain, as `gxc list` shows it: 1.22.10 or tamago@1.25.5"

# by (verb path, dest), else by dest alone
ARGUMENTS: dict[str, str] = {
    "specs": SPEC,
    "spec": SPEC,
    "versions": INSTALLED,
    "json": "print JSON instead of text",
    "target": "a port from `gxc platform list`, e.g. riscv64-unknown-elf or wasip1",
    "shell": "bash, zsh or fish",
    "env --shell": "the syntax to print: bash, zsh, fish or json",
    "command": "the program and its arguments, after --",
    "program": "a program of the toolchain: go, gofmt, or a tool such as compile, link or asm",
    "packages": "Go packages, as go build takes them (default: .)",
    "package": "a main package (default: .)",
    "name": "a port name, e.g. riscv64-unknown-elf",
    "platform add file": "a port file (TOML) to add to your ports",
    "file": "an artifact gxc built (a binary under dist/)",
    "keep": "a version to keep besides what projects pin; repeat for several",
    "path": "a project directory, or its toolchains.toml (default: here)",
    "dir": "the mirror directory",
    "platform_verb": "list, show, add or remove",
    "cache_verb": "list, clean or stats",
    "mirror_verb": "sync or verify",
}

EXAMPLES: dict[str, str] = {
    "install": "gxc install 1.22.10 tamago@1.25.5",
    "uninstall": "gxc uninstall 1.21.13",
    "list": "gxc list --json",
    "list-remote": "gxc list-remote 1.22",
    "pin": "gxc pin 1.25.5 -t riscv64-unknown-elf --lock",
    "outdated": "gxc outdated --offline",
    "upgrade": "gxc upgrade --lock",
    "use": "gxc use 1.22",
    "current": "gxc current --json",
    "exec": "gxc exec -T 1.22.10 -- go version",
    "env": "gxc env -t wasip1 --shell fish",
    "which": "gxc which gofmt",
    "init": "gxc init bash --activate",
    "completion": "gxc completion zsh",
    "platform": "gxc platform list",
    "platform list": "gxc platform list --all",
    "platform show": "gxc platform show riscv64-unknown-elf",
    "platform add": "gxc platform add myboard.toml",
    "platform remove": "gxc platform remove myboard",
    "build": "gxc build -t linux-arm64 -t wasip1 ./cmd/app",
    "run": "gxc run -t riscv64-unknown-elf .",
    "test": "gxc test -t wasip1 ./... -run TestParse",
    "provenance": "gxc provenance dist/linux-arm64/app",
    "verify-artifact": "gxc verify-artifact dist/linux-arm64/app --key release.pub",
    "inspect": "gxc inspect dist/linux-arm64/app --json",
    "keygen": "gxc keygen release",
    "verify": "gxc verify 1.22.10 --against-index",
    "doctor": "gxc doctor --policy fleet.toml",
    "reshim": "gxc reshim",
    "cache": "gxc cache list",
    "cache list": "gxc cache list --json",
    "cache clean": "gxc cache clean",
    "cache stats": "gxc cache stats --json",
    "prune": "gxc prune --keep 1.22 --yes",
    "trust": "gxc trust .",
    "untrust": "gxc untrust .",
    "mirror": "gxc mirror sync /srv/go-mirror",
    "mirror sync": "gxc mirror sync /srv/go-mirror --versions 1.22.10 --hosts linux/amd64",
    "mirror verify": "gxc mirror verify /srv/go-mirror --offline",
}


def verbs(parser: argparse.ArgumentParser, path: str = "") -> list[tuple[str, argparse.ArgumentParser]]:
    """Every verb and nested verb (`cache list`), with its parser."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                full = f"{path} {name}".strip()
                found += [(full, sub), *verbs(sub, full)]
    return found


def describe(parser: argparse.ArgumentParser) -> None:
    for path, sub in verbs(parser):
        for action in sub._actions:
            if action.help is None:
                option = action.option_strings[-1] if action.option_strings else action.dest
                action.help = ARGUMENTS.get(f"{path} {option}", ARGUMENTS.get(action.dest))
        example = EXAMPLES.get(path)
        if example:
            sub.epilog = f"{sub.epilog}\n\nexample: {example}" if sub.epilog else f"example: {example}"
            sub.formatter_class = argparse.RawDescriptionHelpFormatter
