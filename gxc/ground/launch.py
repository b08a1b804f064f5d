"""Every program gxc starts: the one place that decides what environment a child gets.

Two kinds of child, two rules:

- **gxc's helpers** (git, make.bash, `go version -m`, anything gxc runs to learn or make something):
  an allow-listed environment (`HELPER_ENV`) plus what the caller names. Nothing else of gxc's own
  environment reaches them: no `GXC_*`, no secrets, no project `[env]`.
- **the user's own commands** (a managed `go build`, `gxc exec -- CMD`, the program under a port's
  runner, a shim's `go`): the managed environment the caller built, less gxc's secrets (`SECRETS`).

git always runs hardened (`git()`): no system config, no hooks, no fsmonitor, bare repositories only
when named, no prompts. No function here starts a shell.

On the shim's path (`exec_user`): `os` only; subprocess is imported by the functions that need it.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    import subprocess
    from collections.abc import Mapping, Sequence
    from typing import Any, NoReturn

# What a helper may see of the user's environment: finding programs, locale, temp dir, the user's
# home (git's own global config, ssh keys for a clone), and the network settings a clone needs.
HELPER_ENV = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "TERM",
              "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
              "SSL_CERT_FILE", "SSL_CERT_DIR", "SSH_AUTH_SOCK")
# gxc's secrets: read by gxc itself, never passed to any child, the user's own commands included.
SECRETS = ("GXC_SIGNING_PASSWORD",)
# A repository's own config can name programs (core.fsmonitor, hooks, core.sshCommand via includes);
# these settings on the command line win over every config file git reads.
GIT_HARDENING = ("-c", "core.fsmonitor=false", "-c", "safe.bareRepository=explicit", "-c", "core.hooksPath=/dev/null",
                 "-c", "protocol.ext.allow=never")
GIT_ENV = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "", "SSH_ASKPASS": "",
           "GIT_OPTIONAL_LOCKS": "0"}


def helper_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The allow-listed environment of a helper program, plus what the caller sets on purpose."""
    env = {name: os.environ[name] for name in HELPER_ENV if name in os.environ}
    env.setdefault("PATH", os.defpath)
    if extra:
        env.update(extra)
    return env


def user_env(env: Mapping[str, str]) -> dict[str, str]:
    """The environment of one of the user's own commands: what the caller built, less gxc's secrets."""
    return {k: v for k, v in env.items() if k not in SECRETS}


def run(argv: Sequence[str], env: Mapping[str, str], **options: Any) -> subprocess.CompletedProcess[Any]:
    """Run a program to completion (`subprocess.run` options: cwd, input, capture_output, text, timeout)."""
    import subprocess

    options.setdefault("check", False)
    return subprocess.run(list(argv), env=dict(env), **options)  # noqa: PLW1510 - check is set above


def popen(argv: Sequence[str], env: Mapping[str, str], **options: Any) -> subprocess.Popen[Any]:
    """Start a program and return at once (`subprocess.Popen` options)."""
    import subprocess

    return subprocess.Popen(list(argv), env=dict(env), **options)


def popen_group(argv: Sequence[str], env: Mapping[str, str], **options: Any) -> subprocess.Popen[Any]:
    """Start a program in a session of its own, so that it and everything it starts can be stopped as one."""
    return popen(argv, env, start_new_session=True, **options)


GROUP_GONE_SECONDS = 10.0  # how long stop_group waits for the last killed member to leave


def stop_group(proc: subprocess.Popen[Any]) -> None:
    """Kill a program started by `popen_group` and all it started; return once none of them is left.

    Killing only the leader (make.bash's bash) leaves its compilers writing into a tree the caller is
    about to remove; SIGKILL to the group stops them all, and waiting for the group to empty means
    no write lands after this returns.
    """
    import contextlib
    import signal
    import time

    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + GROUP_GONE_SECONDS
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.01)


def git(args: Sequence[str], cwd: str | None = None, ceiling: str = "",
        **options: Any) -> subprocess.CompletedProcess[Any]:
    """git, hardened against the repository's own config; `ceiling` stops it looking above a directory."""
    extra = dict(GIT_ENV)
    if ceiling:
        extra["GIT_CEILING_DIRECTORIES"] = ceiling
    return run(["git", *GIT_HARDENING, *args], helper_env(extra), cwd=cwd, **options)


def exec_user(program: str, argv: Sequence[str], env: Mapping[str, str], search: bool = False) -> NoReturn:
    """Replace this process with one of the user's own commands (exit code and signals are its own)."""
    clean = user_env(env)
    if search:
        os.execvpe(program, list(argv), clean)
    os.execve(program, list(argv), clean)
