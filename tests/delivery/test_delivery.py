"""Production delivery with real builds: provenance for every artifact, signatures checked by openssl,
and verify-artifact refusing what it must."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import NEW, OLD, gxc
from tests.helpers import write_hello_module

pytestmark = pytest.mark.slow

PORTS = ("riscv64-linux", "wasm", "aarch64-linux-gnu")
ARTIFACTS = {"riscv64-linux": "hello", "wasm": "hello.wasm", "aarch64-linux-gnu": "hello"}
PASSPHRASE = "correct horse"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.email=dev@example.com", "-c", "user.name=dev", *args], cwd=cwd,
                          check=True, capture_output=True, text=True).stdout.strip()


def project(root: Path, env: dict[str, str], version: str = NEW) -> Path:
    """A module in a git checkout, pinned and locked to `version`, with a go.sum."""
    module = write_hello_module(root)
    (module / "go.sum").write_text("example.com/none v1.0.0 h1:AAAA=\n")
    (module / ".gitignore").write_text("dist/\n")  # what a build writes does not make the checkout dirty
    git(module, "init", "-q")
    gxc(env, "pin", "--lock", version, cwd=module)
    git(module, "add", "-A")
    git(module, "commit", "-qm", "hello")
    return module


@pytest.fixture
def env(own_home: dict[str, str], tmp_path: Path) -> dict[str, str]:
    return dict(own_home, GXC_TRUSTED_PATHS=str(tmp_path), GXC_SIGNING_PASSWORD=PASSPHRASE)


def provenance_of(artifact: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(Path(f"{artifact}.intoto.json").read_text())
    return data


def test_provenance_of_a_multi_port_build_names_every_input_by_a_digest_that_matches(
        env: dict[str, str], tmp_path: Path, mirror_dir: Path) -> None:
    module = project(tmp_path / "app", env)
    out = gxc(env, "build", *(a for p in PORTS for a in ("-t", p)), cwd=module).stdout
    assert sorted(out.splitlines()) == sorted(f"{p}: dist/{p}/{ARTIFACTS[p]}" for p in PORTS)
    for port in PORTS:
        artifact = module / "dist" / port / ARTIFACTS[port]
        doc = provenance_of(artifact)
        assert (doc["_type"], doc["predicateType"]) == ("https://in-toto.io/Statement/v1",
                                                        "https://slsa.dev/provenance/v1")
        assert doc["subject"] == [{"name": ARTIFACTS[port], "digest": {"sha256": sha256(artifact)}}]
        definition = doc["predicate"]["buildDefinition"]
        params = definition["externalParameters"]
        assert (params["port"], params["package"], params["reproducible"]) == (port, "example.com/hello", False)
        assert params["env"]["GOARCH"] == {"riscv64-linux": "riscv64", "wasm": "wasm",
                                           "aarch64-linux-gnu": "arm64"}[port]
        toolchain, main_module, go_sum = definition["resolvedDependencies"]
        archive = f"go{NEW}.linux-amd64.tar.gz"
        assert toolchain["name"] == f"go{NEW}" and toolchain["uri"].endswith(f"/{archive}")
        assert toolchain["digest"] == {"sha256": sha256(mirror_dir / archive)}  # recomputed from the archive
        assert main_module["name"] == "example.com/hello"
        assert main_module["digest"] == {"gitCommit": git(module, "rev-parse", "HEAD")}
        # the dirty state is what Go stamped into the artifact (no git runs); Go stamps no wasm build info
        stamped = {} if port == "wasm" else {"vcs_dirty": False}
        assert main_module["annotations"] == {"go.mod_sha256": sha256(module / "go.mod"), **stamped}
        assert go_sum == {"name": "go.sum", "digest": {"sha256": sha256(module / "go.sum")}}
        run = doc["predicate"]["runDetails"]
        assert run["builder"]["id"].startswith("urn:gxc:builder:") and run["metadata"]["startedOn"] <= \
            run["metadata"]["finishedOn"]
    summary = gxc(env, "provenance", "dist/wasm/hello.wasm", cwd=module).stdout
    assert summary.startswith(f"subject   hello.wasm sha256:{sha256(module / 'dist/wasm/hello.wasm')}\n"
                              "port      wasm  package example.com/hello\n")
    assert f"  go{NEW} " in summary and "example.com/hello (gitCommit:" in summary


def test_reproducible_provenance_from_two_clean_builds_is_identical(env: dict[str, str], tmp_path: Path) -> None:
    origin = project(tmp_path / "origin", env)
    first, second = tmp_path / "one" / "app", tmp_path / "two" / "app"
    for module in (first, second):  # two clean checkouts of one commit, in different directories
        subprocess.run(["git", "clone", "-q", str(origin), str(module)], check=True)
        gxc(env, "build", "--reproducible", "-t", "riscv64-linux", cwd=module)
    one, two = (m / "dist" / "riscv64-linux" / "hello.intoto.json" for m in (first, second))
    assert one.read_bytes() == two.read_bytes()
    assert "runDetails" in json.loads(one.read_text())["predicate"]
    assert "metadata" not in json.loads(one.read_text())["predicate"]["runDetails"]


def openssl_verifies(public: Path, signature_der: bytes, data: bytes, tmp_path: Path) -> bool:
    (tmp_path / "sig.der").write_bytes(signature_der)
    (tmp_path / "data").write_bytes(data)
    proc = subprocess.run(["openssl", "dgst", "-sha256", "-verify", str(public), "-signature",
                           str(tmp_path / "sig.der"), str(tmp_path / "data")], capture_output=True, text=True,
                          check=False)
    return proc.returncode == 0 and proc.stdout.strip() == "Verified OK"


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding, written here again from the DSSE specification."""
    return b" ".join([b"DSSEv1", str(len(payload_type)).encode(), payload_type.encode(),
                      str(len(payload)).encode(), payload])


def signed_build(env: dict[str, str], tmp_path: Path) -> tuple[Path, Path]:
    module = project(tmp_path / "app", env)
    out = gxc(env, "keygen", "release", cwd=tmp_path).stdout
    assert out == "wrote release.key (private, encrypted) and release.pub (public)\n"
    assert (tmp_path / "release.key").read_text().startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    gxc(env, "build", "-t", "riscv64-linux", "--sign", str(tmp_path / "release.key"), cwd=module)
    return module, module / "dist" / "riscv64-linux" / "hello"


def test_signatures_verify_with_openssl_and_with_verify_artifact(env: dict[str, str], tmp_path: Path) -> None:
    module, artifact = signed_build(env, tmp_path)
    public = tmp_path / "release.pub"
    signature = base64.b64decode(Path(f"{artifact}.sig").read_bytes())
    assert openssl_verifies(public, signature, artifact.read_bytes(), tmp_path)
    envelope = json.loads(Path(f"{artifact}.intoto.jsonl").read_text())
    payload = base64.b64decode(envelope["payload"])
    assert envelope["payloadType"] == "application/vnd.in-toto+json"
    assert payload == Path(f"{artifact}.intoto.json").read_bytes()
    assert openssl_verifies(public, base64.b64decode(envelope["signatures"][0]["sig"]),
                            pae(envelope["payloadType"], payload), tmp_path)
    proc = gxc(env, "verify-artifact", "dist/riscv64-linux/hello", "--key", str(public), cwd=module)
    assert proc.stdout.startswith(f"dist/riscv64-linux/hello: ok (sha256 {sha256(artifact)}; signature and "
                                  "provenance verified with key ")
    assert proc.stdout.endswith(f"; go{NEW} is locked in {module / 'toolchains.toml'})\n")


def refused(env: dict[str, str], module: Path, public: Path) -> str:
    proc = gxc(env, "verify-artifact", "dist/riscv64-linux/hello", "--key", str(public), cwd=module, check=False)
    assert proc.returncode == 1 and proc.stdout == "" and len(proc.stderr.splitlines()) == 1, proc.stderr
    return proc.stderr


def test_verify_artifact_refuses_tampering_another_key_and_an_unlocked_toolchain(env: dict[str, str],
                                                                                   tmp_path: Path) -> None:
    module, artifact = signed_build(env, tmp_path)
    public = tmp_path / "release.pub"
    original = artifact.read_bytes()
    artifact.write_bytes(original + b"\0")
    assert "the signature of dist/riscv64-linux/hello does not verify with this key" in refused(env, module, public)
    artifact.write_bytes(original)

    envelope_path = Path(f"{artifact}.intoto.jsonl")
    envelope = json.loads(envelope_path.read_text())
    statement = json.loads(base64.b64decode(envelope["payload"]))
    statement["predicate"]["buildDefinition"]["resolvedDependencies"][0]["digest"]["sha256"] = "0" * 64
    forged = dict(envelope, payload=base64.b64encode(json.dumps(statement).encode()).decode())
    envelope_path.write_text(json.dumps(forged))
    assert "the provenance envelope of dist/riscv64-linux/hello does not verify" in refused(env, module, public)
    envelope_path.write_text(json.dumps(envelope))

    gxc(env, "keygen", "other", cwd=tmp_path)
    assert "does not verify with this key" in refused(env, module, tmp_path / "other.pub")

    gxc(env, "pin", "--lock", OLD, cwd=module)  # the project now allows only go1.21.13
    assert f"the artifact was built with go{NEW} (go{NEW}.linux-amd64.tar.gz), which the [lock] of " \
           f"{module / 'toolchains.toml'} does not list" in refused(env, module, public)
    assert gxc(env, "verify-artifact", str(artifact), "--key", str(public), cwd=tmp_path,
               check=False).stderr.startswith("gxc: error: the project has no [lock]")


def test_a_signing_key_that_cannot_be_used_stops_the_build_before_it_starts(env: dict[str, str],
                                                                              tmp_path: Path) -> None:
    module = project(tmp_path / "app", env)
    gxc(env, "keygen", "release", cwd=tmp_path)
    wrong = dict(env, GXC_SIGNING_PASSWORD="wrong")
    proc = gxc(wrong, "build", "-t", "riscv64-linux", "--sign", str(tmp_path / "release.key"), cwd=module,
               check=False)
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == f"gxc: error: the signing key {tmp_path / 'release.key'} is not a PEM private key, or " \
                          "GXC_SIGNING_PASSWORD is not its passphrase (hint: check the key and the passphrase)\n"
    assert not (module / "dist").exists()
    unencrypted = dict(env, GXC_SIGNING_PASSWORD="")
    assert "NOT encrypted" in gxc(unencrypted, "keygen", "plain", cwd=tmp_path).stdout
    gxc(unencrypted, "build", "-t", "riscv64-linux", "--sign", str(tmp_path / "plain.key"), cwd=module)
    assert gxc(env, "verify-artifact", "dist/riscv64-linux/hello", "--key", str(tmp_path / "plain.pub"),
               cwd=module).returncode == 0
    shutil.rmtree(module / "dist")


HARDENED_PORT = '''
[platforms.rv-hard]
inherits = ["riscv64-linux-gnu"]
build = { hardening = "strict" }
'''


def readelf(*args: str) -> str:
    return subprocess.run(["readelf", "-W", *args], capture_output=True, text=True, check=True).stdout


def test_inspect_reports_what_readelf_and_file_see_for_each_kind_of_port(env: dict[str, str],
                                                                         tmp_path: Path) -> None:
    module = project(tmp_path / "app", env)
    with (module / "toolchains.toml").open("a") as f:
        f.write(HARDENED_PORT)
    gxc(env, "build", "-t", "riscv64-linux", "-t", "rv-hard", "-t", "wasm", "--check-hardening", cwd=module)
    go = Path(env["GXC_HOME"]) / "toolchains" / f"go{NEW}" / "bin" / "go"
    for port, name in (("riscv64-linux", "hello"), ("rv-hard", "hello"), ("wasm", "hello.wasm")):
        artifact = module / "dist" / port / name
        report = json.loads(gxc(env, "inspect", "--json", str(artifact), cwd=module).stdout)
        described = subprocess.run(["file", "-b", str(artifact)], capture_output=True, text=True,
                                   check=True).stdout
        if port == "wasm":
            assert described.startswith("WebAssembly")
            assert report["format"] == "WebAssembly" and report["go"] == {}
            assert all(report[k] is None for k in ("linking", "pie", "relro", "nx_stack", "bind_now", "stripped"))
            text = gxc(env, "inspect", str(artifact), cwd=module).stdout
            assert "PIE           n/a\n" in text and "Go build info n/a (go version -m cannot read it)\n" in text
            continue
        header, segments, dynamic = readelf("-h", str(artifact)), readelf("-l", str(artifact)), \
            readelf("-d", str(artifact))
        assert report["format"] == "ELF 64-bit LSB" and "ELF 64-bit LSB" in described and "RISC-V" in described
        assert report["arch"] == "riscv64" and "Machine:                           RISC-V" in header
        assert report["pie"] == ("DYN (" in header) and report["pie"] == (port == "rv-hard")
        assert (report["linking"] == "static") == ("statically linked" in described)
        interp = next((line.split(": ", 1)[1].rstrip("]") for line in segments.splitlines()
                       if "Requesting program interpreter" in line), None)
        assert report["interpreter"] == interp
        stack = next(line.split() for line in segments.splitlines() if "GNU_STACK" in line)
        assert report["nx_stack"] == ("E" not in stack[6])
        has_relro, now = "GNU_RELRO" in segments, "BIND_NOW" in dynamic or "Flags: NOW" in dynamic
        assert report["relro"] == ("none" if not has_relro else "full" if now else "partial")
        assert report["bind_now"] == now
        assert report["stripped"] == (".symtab" not in readelf("-S", str(artifact)))
        build_id = subprocess.run([str(go), "tool", "buildid", str(artifact)], capture_output=True, text=True,
                                  check=True).stdout.strip()
        assert report["go_build_id"] == build_id
        assert report["go"]["version"] == f"go{NEW}" and report["go"]["trimpath"] is True
        assert report["go"]["cgo"] == ("1" if port == "rv-hard" else "0")
        listed = subprocess.run([str(go), "version", "-m", str(artifact)], capture_output=True, text=True,
                                check=True).stdout
        level = next((line.split("\t")[2] for line in listed.splitlines() if "\tGORISCV64=" in line), None)
        assert report["go"]["goarch_level"] == level  # go1.22 records none; go1.23 and later GORISCV64=rva20u64
        assert report["go"]["vcs_revision"] == git(module, "rev-parse", "HEAD")
        if port == "rv-hard":
            assert (report["pie"], report["relro"], report["bind_now"]) == (True, "full", True)


def test_check_hardening_fails_an_artifact_that_lacks_what_its_level_promises(env: dict[str, str],
                                                                                tmp_path: Path) -> None:
    module = project(tmp_path / "app", env)
    with (module / "toolchains.toml").open("a") as f:
        f.write(HARDENED_PORT)
    proc = gxc(env, "build", "-t", "rv-hard", "--check-hardening", "--", "-buildmode=exe", cwd=module, check=False)
    assert proc.returncode == 1
    assert proc.stderr == 'gxc: error: rv-hard: dist/rv-hard/hello lacks PIE (hardening = "strict") (hint: see ' \
                          "`gxc inspect FILE`; change the port's [build] flags or hardening level)\n"
    with (module / "toolchains.toml").open("a") as f:
        f.write('\n[platforms.loose]\ninherits = ["riscv64-linux"]\nbuild = { hardening = "maximum" }\n')
    proc = gxc(env, "build", "-t", "loose", cwd=module, check=False)
    assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1
    assert 'build.hardening = "maximum" is not a level (levels: default, strict, off)' in proc.stderr
    assert f"{module / 'toolchains.toml'}:" in proc.stderr


def test_a_flavor_artifact_is_allowed_only_by_a_lock_of_every_input_it_was_built_from() -> None:
    from gxc.delivery import provenance
    from gxc.ground.errors import GxcError

    statement = {"predicate": {"buildDefinition": {"resolvedDependencies": [
        {"name": "tamago@1.25.5", "annotations": {"kind": "source-build", "filename": "go1.25.5.src.tar.gz"}},
        {"name": "go1.25.5 source", "digest": {"sha256": "a" * 64}, "annotations": {"filename": "go1.25.5.src.tar.gz"}},
        {"name": "patch", "uri": "/fixtures/tamago.patch", "digest": {"sha256": "d" * 64}},
        {"name": "fork", "uri": "git+https://example.invalid/tamago-go@v1", "digest": {"gitCommit": "e" * 40}},
    ]}}}
    every = {"go1.25.5.src.tar.gz": "a" * 64, "tamago@1.25.5 patch tamago.patch": "d" * 64,
             "tamago@1.25.5 fork https://example.invalid/tamago-go@v1": "e" * 40}
    assert provenance.check_lock(statement, every, "/p/toolchains.toml") == "tamago@1.25.5 is locked in /p/toolchains.toml"
    for locks, why in (({"go1.25.5.linux-amd64.tar.gz": "b" * 64}, "does not list"),  # the release's binary: no
                       ({**every, "go1.25.5.src.tar.gz": "c" * 64}, "allows " + "c" * 64),
                       ({k: v for k, v in every.items() if "patch" not in k}, r"a patch \(tamago@1.25.5 patch"),
                       ({**every, "tamago@1.25.5 fork https://example.invalid/tamago-go@v1": "f" * 40}, "allows f"),
                       ({"go1.25.0.linux-amd64.tar.gz": "b" * 64}, "does not list")):
        with pytest.raises(GxcError, match=why):
            provenance.check_lock(statement, locks, "/p/toolchains.toml")
    bare = {"predicate": {"buildDefinition": {"resolvedDependencies": statement["predicate"]["buildDefinition"][
        "resolvedDependencies"][:1]}}}
    with pytest.raises(GxcError, match="names no input"):  # nothing compared is never ok
        provenance.check_lock(bare, every, "/p/toolchains.toml")


def test_provenance_shows_the_signed_statement_and_names_a_plain_one_that_disagrees(env: dict[str, str],
                                                                                   tmp_path: Path) -> None:
    module, artifact = signed_build(env, tmp_path)
    plain = Path(f"{artifact}.intoto.json")
    doctored = json.loads(plain.read_text())
    doctored["predicate"]["buildDefinition"]["externalParameters"]["flags"] = ["-trimpath", "-doctored"]
    plain.write_text(json.dumps(doctored))
    shown = gxc(env, "provenance", "dist/riscv64-linux/hello", "--key", str(tmp_path / "release.pub"), cwd=module)
    assert "-doctored" not in shown.stdout and "port      riscv64-linux" in shown.stdout
    assert shown.stderr.splitlines() == [
        "gxc: showing the signed provenance dist/riscv64-linux/hello.intoto.jsonl (verified with "
        f"{tmp_path / 'release.pub'})",
        "gxc: warning: dist/riscv64-linux/hello.intoto.json disagrees with the signed provenance; trust the signed one"]
    unkeyed = gxc(env, "provenance", "dist/riscv64-linux/hello", cwd=module)
    assert "(not verified: pass --key PUB)" in unkeyed.stderr
    gxc(env, "keygen", "other", cwd=tmp_path)
    refused = gxc(env, "provenance", "dist/riscv64-linux/hello", "--key", str(tmp_path / "other.pub"), cwd=module,
                  check=False)
    assert refused.returncode == 1 and "does not verify with this key" in refused.stderr


def test_a_main_package_directory_is_read_without_go_list_and_anything_else_is_left_to_it(tmp_path: Path) -> None:
    """gxc build names a single main-package directory from its package clauses and go.mod; patterns, import
    paths, mixed clauses, packages outside the module and -modfile are go list's to answer (None)."""
    from gxc.delivery import build

    module = tmp_path / "m"
    for rel, text in {"go.mod": "module example.com/tool/v2 // the module\n\ngo 1.22\n",
                      "main.go": "// Command tool.\n/* a block\n   comment */\npackage main\n",
                      "extra_linux.go": "//go:build linux\n\npackage main\n",
                      "main_test.go": "package main_test\n",
                      "cmd/a/a.go": "package main\n", "lib/lib.go": "package lib\n",
                      "mixed/a.go": "package main\n", "mixed/doc.go": "//go:build ignore\n\npackage documentation\n",
                      "../other/go.mod": "module example.com/other\n", "../other/main.go": "package main\n"}.items():
        (module / rel).parent.mkdir(parents=True, exist_ok=True)
        (module / rel).write_text(text)
    t = build.Target(None, {}, [], None)  # type: ignore[arg-type]
    assert build.plain_main(t, ["."], str(module)) == ["example.com/tool/v2"]
    assert build.plain_main(t, ["./cmd/a"], str(module)) == ["example.com/tool/v2/cmd/a"]
    assert build.plain_main(t, ["./cmd/a"], str(module / "lib")) is None  # ./cmd/a from lib/ does not exist
    for packages in (["./..."], ["example.com/tool/v2"], ["./lib"], ["./mixed"], ["../other"], [".", "./cmd/a"]):
        assert build.plain_main(t, packages, str(module)) is None, packages
    assert build.plain_main(build.Target(None, {"GOFLAGS": "-modfile=x.mod"}, [], None),  # type: ignore[arg-type]
                            ["."], str(module)) is None
    assert build._binary_name(build.plain_main(t, ["."], str(module))[0]) == "tool"  # type: ignore[index]
