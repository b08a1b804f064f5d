"""Provenance of what `gxc build` writes: an in-toto Statement v1 whose predicate is SLSA Provenance v1.

`<artifact>.intoto.json` names the artifact and its sha256 (the subject), what was asked for (port,
package, flags, tags, the environment that affects the build), everything the build resolved with
its digest (the toolchain's archive sha256 or module h1; for a flavor the release source, every
patch or fork commit, and the bootstrap; the main module's VCS revision and dirty state; go.sum),
and who ran it when. With `--reproducible` the document holds no time and no host name, so two clean
builds of the same inputs write the same bytes.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import time
from dataclasses import dataclass
from typing import Any

from gxc import __version__
from gxc.ground import paths
from gxc.ground.errors import GxcError, public_path
from gxc.ground.fsutil import read_json_object, sha256_file

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
BUILD_TYPE = "urn:gxc:go-build:v1"
BUILDER_ID = "urn:gxc:builder"
SUFFIX = ".intoto.json"
# What changes the bytes `go build` writes, besides flags: the target, its sub-architecture, cgo and its tools.
BUILD_ENV = ("GOOS", "GOARCH", "GOARM", "GOARM64", "GOAMD64", "GO386", "GOMIPS", "GOMIPS64", "GOPPC64",
             "GORISCV64", "GOWASM", "GOEXPERIMENT", "GOFLAGS", "CGO_ENABLED", "CC", "CXX", "CGO_CFLAGS",
             "CGO_CPPFLAGS", "CGO_CXXFLAGS", "CGO_LDFLAGS", "GOTOOLCHAIN")


@dataclass(frozen=True)
class BuildFacts:
    """One artifact's build, as gxc ran it."""

    artifact: str
    package: str  # the main package's import path
    port: str
    flags: list[str]
    tags: list[str]
    env: dict[str, str]
    toolchain_ident: str  # `1.22.10` or `tamago@1.25.5`
    module_dir: str  # where go.mod is ("" outside a module)
    started: float
    finished: float
    digest: str = ""  # the artifact's sha256 when the build already took it ("": hash it here)


def _time(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def _receipt(ident: str) -> dict[str, Any] | None:
    """A toolchain's receipt, read without the install machinery (a build imports no more than it needs)."""
    return read_json_object(paths.receipt_path(ident))


@functools.cache  # one receipt per build, however many artifacts name it
def toolchain_dependencies(ident: str) -> list[dict[str, Any]]:
    """The toolchain as resolved dependencies, from its receipt: archive digest, or source, patches, bootstrap."""
    receipt = _receipt(ident)
    if receipt is None:
        raise GxcError(f"{ident} has no receipt to describe in the provenance",
                       f"run `gxc install --force {ident}`")
    name = f"go{ident}" if "@" not in ident else ident
    if receipt.get("kind") != "source-build":
        digest = {"dirHash": receipt["h1"]} if receipt.get("h1") else {"sha256": receipt["sha256"]}
        return [{"name": name, "uri": receipt.get("url", ""), "digest": digest,
                 "annotations": {"filename": receipt.get("filename", ""), "proved_by": receipt.get("proved_by", "")}}]
    source = receipt["source"]
    found: list[dict[str, Any]] = [
        {"name": name, "digest": {"sha256": receipt.get("sha256", "")},
         "annotations": {"kind": "source-build", "build_key": receipt.get("build_key", ""),
                         "flavor": receipt.get("flavor", ""), "filename": source["filename"]}},
        {"name": f"go{receipt['base']} source", "uri": source["url"], "digest": {"sha256": source["sha256"]},
         "annotations": {"filename": source["filename"]}},
    ]
    found += [{"name": "patch", "uri": p["location"], "digest": {"sha256": p["sha256"]}}
              for p in receipt.get("patches", [])]
    if receipt.get("git"):
        git = receipt["git"]
        found.append({"name": "fork", "uri": f"git+{git['url']}@{git['ref']}", "digest": {"gitCommit": git["commit"]}})
    bootstrap = _receipt(str(receipt.get("bootstrap", ""))) or {}
    if bootstrap.get("sha256"):
        found.append({"name": f"go{receipt['bootstrap']} (bootstrap)", "uri": bootstrap.get("url", ""),
                      "digest": {"sha256": bootstrap["sha256"]}})
    return found


_GIT_FILE_LIMIT = 1 << 20  # HEAD, a ref, packed-refs or config larger than this is not read


def _owned_by_me(path: str) -> bool:
    try:
        return os.lstat(path).st_uid == os.geteuid()
    except OSError:
        return False


def _read_small(path: str) -> str:
    try:
        with open(path, "rb") as f:
            return f.read(_GIT_FILE_LIMIT).decode("utf-8", "replace")
    except OSError:
        return ""


def git_dir(module_dir: str) -> str:
    """The `.git` Go's VCS stamping would use: the nearest at or above the module root, owned by the user
    ('' when there is none, or it is a link or someone else's). Read as files; no git runs."""
    from gxc.project.pins import parents

    for directory in parents(module_dir):
        candidate = os.path.join(directory, ".git")
        if not os.path.lexists(candidate):
            continue
        if os.path.islink(candidate) or not _owned_by_me(candidate):
            return ""
        if os.path.isdir(candidate):
            return candidate
        pointer = _read_small(candidate).strip()  # a worktree's `.git` file: `gitdir: <path>`
        if pointer.startswith("gitdir: "):
            target = os.path.join(directory, pointer[len("gitdir: "):])
            return target if os.path.isdir(target) and _owned_by_me(target) else ""
        return ""
    return ""


def _common_dir(gitdir: str) -> str:
    common = _read_small(os.path.join(gitdir, "commondir")).strip()
    return os.path.normpath(os.path.join(gitdir, common)) if common else gitdir


def _is_commit(text: str) -> bool:
    return len(text) in (40, 64) and all(c in "0123456789abcdef" for c in text)


def head_commit(gitdir: str) -> str:
    """HEAD's commit, from HEAD, the loose ref and packed-refs ('' when it cannot be read)."""
    head = _read_small(os.path.join(gitdir, "HEAD")).strip()
    if _is_commit(head):
        return head
    ref = head.removeprefix("ref: ").strip()
    if not head.startswith("ref: ") or ".." in ref.split("/") or not ref.startswith("refs/"):
        return ""
    common = _common_dir(gitdir)
    loose = _read_small(os.path.join(common, *ref.split("/"))).strip()
    if _is_commit(loose):
        return loose
    for line in _read_small(os.path.join(common, "packed-refs")).splitlines():
        commit, _, name = line.partition(" ")
        if name.strip() == ref and _is_commit(commit):
            return commit
    return ""


def origin_url(gitdir: str) -> str:
    """`remote.origin.url` from the repository's config file, read as text."""
    section = ""
    for raw in _read_small(os.path.join(_common_dir(gitdir), "config")).splitlines():
        line = raw.strip()
        if line.startswith("["):
            section = line.split("]", 1)[0][1:].strip()
        elif section == 'remote "origin"':
            key, _, value = line.partition("=")
            if key.strip().lower() == "url":
                return value.strip().strip('"')
    return ""


def _module_path(module_dir: str) -> str:
    with open(os.path.join(module_dir, "go.mod"), encoding="utf-8", errors="replace") as f:
        for line in f:
            words = line.split("//", 1)[0].split()
            if len(words) >= 2 and words[0] == "module":
                return words[1].strip('"')
    return ""


@functools.cache  # one module per build, however many artifacts it makes
def module_dependencies(module_dir: str) -> list[dict[str, Any]]:
    """The main module (with HEAD's commit and origin when it is a git checkout) and its go.sum.

    No git runs: a repository's own config can name programs for git to start. The commit is read from
    the files Go's VCS stamping would use; `statement` prefers what Go stamped into the artifact.
    """
    if not module_dir:
        return []
    found: list[dict[str, Any]] = []
    module: dict[str, Any] = {"name": _module_path(module_dir), "annotations": {"go.mod_sha256":
                                                                                  sha256_file(os.path.join(module_dir,
                                                                                                           "go.mod"))}}
    gitdir = git_dir(module_dir)
    revision = head_commit(gitdir) if gitdir else ""
    if revision:
        module["digest"] = {"gitCommit": revision}
        remote = origin_url(gitdir)
        if remote:
            module["uri"] = f"git+{remote}"
    found.append(module)
    go_sum = os.path.join(module_dir, "go.sum")
    if os.path.isfile(go_sum):
        found.append({"name": "go.sum", "digest": {"sha256": sha256_file(go_sum)}})
    return found


def _stamped(dependencies: list[dict[str, Any]], artifact: str) -> list[dict[str, Any]]:
    """The main module's revision and dirty state as Go stamped them into the artifact, when it did."""
    from gxc.ports.binaryinfo import stamped_settings

    settings = stamped_settings(artifact)
    if not dependencies or settings.get("vcs") != "git" or not _is_commit(settings.get("vcs.revision", "")):
        return dependencies
    module = {**dependencies[0], "digest": {"gitCommit": settings["vcs.revision"]}}
    module["annotations"] = {**module["annotations"], "vcs_dirty": settings.get("vcs.modified") == "true"}
    return [module, *dependencies[1:]]


def statement(facts: BuildFacts, reproducible: bool) -> dict[str, Any]:
    """The in-toto Statement for one artifact."""
    builder: dict[str, Any] = {"id": BUILDER_ID, "version": {"gxc": __version__}}
    run: dict[str, Any] = {"builder": builder}
    if not reproducible:
        builder["id"] = f"{BUILDER_ID}:{platform.node()}"
        run["metadata"] = {"startedOn": _time(facts.started), "finishedOn": _time(facts.finished)}
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": os.path.basename(facts.artifact),
                     "digest": {"sha256": facts.digest or sha256_file(facts.artifact)}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": {
                    "port": facts.port, "package": facts.package, "flags": facts.flags, "tags": facts.tags,
                    "env": {k: facts.env[k] for k in BUILD_ENV if facts.env.get(k)},
                    "reproducible": reproducible,
                },
                "resolvedDependencies": [*toolchain_dependencies(facts.toolchain_ident),
                                         *_stamped(module_dependencies(facts.module_dir), facts.artifact)],
            },
            "runDetails": run,
        },
    }


def encode(document: dict[str, Any]) -> bytes:
    """The bytes written and signed: sorted keys, two-space indent, one trailing newline."""
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()


def write(facts: BuildFacts, reproducible: bool) -> bytes:
    """Write `<artifact>.intoto.json`; return its bytes (what a signature covers)."""
    from gxc.ground import beneath

    data = encode(statement(facts, reproducible))
    beneath.write_path(facts.artifact + SUFFIX, data)
    return data


def read(path: str) -> dict[str, Any]:
    """A provenance document (given it or the artifact beside it), checked to be an in-toto SLSA statement."""
    document_path = path if path.endswith(SUFFIX) else path + SUFFIX
    try:
        with open(document_path, encoding="utf-8") as f:
            document: dict[str, Any] = json.load(f)
    except FileNotFoundError:
        raise GxcError(f"no provenance for {public_path(path)} ({public_path(document_path)} does not exist)",
                       "build it with `gxc build`, which writes one beside every artifact") from None
    except (OSError, ValueError) as e:
        raise GxcError(f"cannot read {public_path(document_path)}: {e}", "rebuild the artifact") from None
    if not isinstance(document, dict) or document.get("_type") != STATEMENT_TYPE \
            or document.get("predicateType") != PREDICATE_TYPE:
        raise GxcError(f"{public_path(document_path)} is not an in-toto statement with SLSA provenance v1",
                       "rebuild the artifact with `gxc build`")
    return document


def toolchain_entry(document: dict[str, Any]) -> dict[str, Any]:
    """The resolved dependency that names the toolchain (the first one gxc writes)."""
    deps = document["predicate"]["buildDefinition"].get("resolvedDependencies") or [{}]
    first: dict[str, Any] = deps[0]
    return first


def check_subject(document: dict[str, Any], artifact: str) -> str:
    """The statement must name this artifact with its sha256 as it is now; returns the digest."""
    actual = sha256_file(artifact)
    for subject in document.get("subject", []):
        if subject.get("name") == os.path.basename(artifact):
            if subject.get("digest", {}).get("sha256") != actual:
                raise GxcError(f"{public_path(artifact)} has sha256 {actual}, its provenance says "
                               f"{subject.get('digest', {}).get('sha256')}",
                               "the artifact was changed after the build; rebuild it")
            return actual
    raise GxcError(f"the provenance does not name {os.path.basename(artifact)} as its subject",
                   "it belongs to another artifact")


def check_lock(document: dict[str, Any], locks: dict[str, str], lock_file: str) -> str:
    """The toolchain in the provenance must be one the project's [lock] allows; returns why it is.

    A release (archive or module zip) must match its lock entry. A source build must match on every
    input: the source archive, each patch and the fork's commit (`gxc pin --lock -t PORT` writes them
    for a flavored port); a release's binary archive says nothing about a tree built from source.
    """
    if not locks:
        raise GxcError("the project has no [lock] to check the artifact's toolchain against",
                       "run `gxc pin --lock` in the project, or verify inside the project that built it")
    toolchain = toolchain_entry(document)
    name = str(toolchain.get("name", ""))
    if toolchain.get("annotations", {}).get("kind") == "source-build":
        wanted = _source_build_inputs(document, name)
    else:
        digest = toolchain.get("digest", {})
        wanted = [(str(toolchain.get("annotations", {}).get("filename", "")),
                   str(digest.get("dirHash") or digest.get("sha256") or ""), name)]
    if not wanted:
        raise GxcError(f"the provenance of the artifact names no input of {name} to compare with the [lock]",
                       "rebuild it with gxc, which records them")
    for key, claimed, what in wanted:
        locked = locks.get(key)
        if locked is None:
            raise GxcError(f"the artifact was built with {what} ({key}), which the [lock] of "
                           f"{public_path(lock_file)} does not list",
                           "build with a locked toolchain (`gxc pin --lock -t PORT` locks a flavor's inputs)")
        if locked != claimed:
            raise GxcError(f"the artifact was built with {key} {claimed}, the [lock] of "
                           f"{public_path(lock_file)} allows {locked}", "build with the locked toolchain")
    return f"{name} is locked in {public_path(lock_file)}"


def _source_build_inputs(document: dict[str, Any], ident: str) -> list[tuple[str, str, str]]:
    """(lock key, digest, what) for the source archive, each patch and the fork of a source build."""
    from gxc.pinning.pinwrite import source_lock_key

    found = []
    for dep in document["predicate"]["buildDefinition"]["resolvedDependencies"][1:]:
        dep_name, digest = str(dep.get("name", "")), dep.get("digest", {})
        if dep_name.endswith(" source"):
            found.append((str(dep.get("annotations", {}).get("filename", "")), str(digest.get("sha256", "")),
                          dep_name))
        elif dep_name == "patch":
            found.append((source_lock_key(ident, "patch", os.path.basename(str(dep.get("uri", "")))),
                          str(digest.get("sha256", "")), "a patch"))
        elif dep_name == "fork":
            found.append((source_lock_key(ident, "fork", str(dep.get("uri", "")).removeprefix("git+")),
                          str(digest.get("gitCommit", "")), "a fork"))
    return found
