"""Every expected failure is a GxcError: a one-line message, a hint, and an exit code.

The CLI catches GxcError at one boundary and prints `gxc: error: <message>` and `help: <hint>`;
the core never prints and never exits. Exit codes follow DESIGN.md: 1 the operation failed,
2 bad usage or bad input.
"""

from __future__ import annotations

EXIT_FAILED = 1
EXIT_USAGE = 2


def shown(text: object) -> str:
    """A value from input, quoted for a message: double quotes, unprintable characters as \\xNN, no Python repr."""
    return '"' + "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in str(text)) + '"'


def for_terminal(text: str, keep: str = "") -> str:
    """Text from a file, a name or a server, safe to print: every character a terminal would act on
    (controls, escapes, bidi overrides, line separators) as `\\xNN`/`\\uNNNN`; `keep` is left as it is."""
    if text.isascii() and (text.isprintable() or all(c.isprintable() or c in keep for c in text)):
        return text
    return "".join(c if c.isprintable() or c in keep else
                   f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}" for c in text)


def public_path(path: str) -> str:
    """A path for a message: gxc's temporary names (staging dirs, `.tmp` files) become what they stand for."""
    import os

    parts = path.split(os.sep)
    if "staging" in parts:  # GXC_HOME/staging/go1.22.10-x8f3k/...: the staging area itself
        return os.sep.join(parts[: parts.index("staging") + 1])
    head, dot, tail = path.rpartition(".")
    if dot and tail == "tmp":  # atomic_write's `<file>.<pid>.<thread>.tmp`
        return head.rsplit(".", 2)[0]
    return path


class GxcError(Exception):
    exit_code = EXIT_FAILED

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(GxcError):
    exit_code = EXIT_USAGE


class BadVersion(UsageError):
    def __init__(self, text: str) -> None:
        super().__init__(
            f"{shown(text)} is not a Go version or version spec",
            "use forms like 1.22.10, go1.22.10, 1.22, 1.22.x, 1.23rc1 or latest",
        )


class UnknownVersion(GxcError):
    def __init__(self, spec: str, hint: str = "run `gxc list-remote --all` to see what the index offers") -> None:
        super().__init__(f"no Go release matches {shown(spec)}", hint)


class NoArchiveForHost(GxcError):
    def __init__(self, version: str, host: str) -> None:
        super().__init__(
            f"go{version} has no archive for {host}",
            "pick another version with `gxc list-remote`",
        )


class BadIndex(GxcError):
    """The release index could not be fetched or is not what go.dev serves."""


class NetworkError(GxcError):
    def __init__(self, url: str, reason: str, status: int = 0) -> None:
        super().__init__(
            f"could not fetch {url}: {reason}",
            "check the network or the mirror (GXC_MIRROR, GXC_INDEX_URL), or retry with --offline",
        )
        self.status = status  # the HTTP status that refused the request; 0 when none answered


class ChecksumMismatch(GxcError):
    def __init__(self, url: str, expected: str, actual: str, authority: str = "the release index") -> None:
        super().__init__(
            f"checksum mismatch for {url}: expected {'' if expected.startswith('h1:') else 'sha256 '}{expected} "
            f"({authority}), got {actual}",
            "the download was deleted; retry, and if it persists the mirror serves a bad archive",
        )
        self.url, self.expected, self.actual = url, expected, actual


class UnsafeArchive(GxcError):
    def __init__(self, member: str, reason: str) -> None:
        super().__init__(
            f"refusing archive member {shown(member)}: {reason}",
            "the archive is malformed or hostile; nothing was installed",
        )


class ArchiveTooLarge(GxcError):
    def __init__(self, what: str, limit: int) -> None:
        super().__init__(
            f"archive exceeds the {what} limit ({limit})",
            "raise [limits] in config.toml if this archive is genuine; nothing was installed",
        )


class ToolchainNotInstalled(GxcError):
    def __init__(self, version: str, reason: str = "", hint: str = "") -> None:
        why = f" ({reason})" if reason else ""
        name = version if "@" in version else f"go{version}"
        super().__init__(f"{name} is not installed{why}", hint or f"run `gxc install {version}`")
        self.version = version


class PinFileError(UsageError):
    def __init__(self, path: str, line: int, col: int, message: str) -> None:
        super().__init__(f"{path}:{line}:{col}: {message}", "fix the pin file and try again")
        self.path, self.line, self.col = path, line, col


class NoToolchainSelected(GxcError):
    def __init__(self, any_installed: bool = True) -> None:
        if not any_installed:
            super().__init__("no Go toolchain is installed", "install one with `gxc install latest`")
            return
        super().__init__(
            "no Go toolchain is selected here",
            "pin one with `gxc pin 1.22` or set a default with `gxc use 1.22`",
        )


class DiskError(GxcError):
    def __init__(self, path: str, err: OSError) -> None:
        super().__init__(
            f"cannot write {public_path(path)}: {err.strerror or err}",
            "free disk space or fix permissions, then retry; nothing was installed",
        )


class SourceMismatch(GxcError):
    def __init__(self, version: str, project: str, why: str) -> None:
        super().__init__(
            f"refusing go{version} from the [source] of {project}: {why}",
            "a project's source may not redefine a release for every project; pass --allow-source-mismatch "
            "to install it anyway (the receipt records it)",
        )
