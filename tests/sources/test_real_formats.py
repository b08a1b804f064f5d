"""Real formats: go.dev's index with official release data, default URLs, and a real TLS server for https->http."""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gxc.ground import config
from gxc.ground.errors import NoArchiveForHost
from gxc.sources import index
from tests.conftest import gxc

FIXTURE = Path(__file__).parents[1] / "fixtures" / "go-dev-index.json"
OFFICIAL_LINUX_AMD64 = "736ce492a19d756a92719a6121226087ccd91b652ed5caec40ad6dbfb2252092"  # go1.22.10
OFFICIAL_DARWIN_ARM64 = "21cf49415ffe0755b45f2b63e75d136528a32f7bb7bdd0166f51d22a03eb0a3f"
OFFICIAL_LINUX_ARMV6L = "a7bbbc80fe736269820bbdf3555e91ada5d18a5cde2276aac3b559bc1d52fc70"


def test_the_go_dev_index_shape_parses_with_official_names_and_hashes() -> None:
    releases = index.parse_index(FIXTURE.read_bytes(), str(FIXTURE))
    assert [str(r.version) for r in releases] == ["1.22.10", "1.21.13"]
    newest = releases[0]
    assert {f.kind for f in newest.files} == {"archive", "source"}
    linux = newest.archive_for("linux", "amd64")
    assert (linux.filename, linux.sha256) == ("go1.22.10.linux-amd64.tar.gz", OFFICIAL_LINUX_AMD64)
    assert newest.archive_for("linux", "armv6l").filename == "go1.22.10.linux-armv6l.tar.gz"
    with pytest.raises(NoArchiveForHost):
        newest.archive_for("windows", "amd64")  # no archive for the host: the source file is not one


def test_default_urls_are_go_devs() -> None:
    sources = config.Sources()
    assert sources.index_url == "https://go.dev/dl/?mode=json&include=all"
    assert sources.archive_url("go1.22.10.linux-amd64.tar.gz") == "https://dl.google.com/go/go1.22.10.linux-amd64.tar.gz"
    assert config.Sources(mirror="http://127.0.0.1:9/m/").archive_url("go1.22.10.linux-amd64.tar.gz") == (
        "http://127.0.0.1:9/m/go1.22.10.linux-amd64.tar.gz")


def test_pin_lock_from_a_file_index_records_the_official_hashes(gxc_env: dict[str, str], tmp_path: Path) -> None:
    env = dict(gxc_env, GXC_INDEX_URL=FIXTURE.as_uri())
    out = gxc(env, "pin", "--lock", "1.22", "--host", "linux/amd64", "--host", "darwin/arm64", "--host", "linux/arm",
              cwd=tmp_path).stdout
    assert out.splitlines()[1:] == [
        f"locked go1.22.10.linux-amd64.tar.gz sha256 {OFFICIAL_LINUX_AMD64}",
        f"locked go1.22.10.darwin-arm64.tar.gz sha256 {OFFICIAL_DARWIN_ARM64}",
        f"locked go1.22.10.linux-armv6l.tar.gz sha256 {OFFICIAL_LINUX_ARMV6L}"]
    assert (tmp_path / "toolchains.toml").read_text() == (
        '[toolchain]\ngo = "1.22.10"\n\n[lock]\n'
        f'"go1.22.10.linux-amd64.tar.gz" = "{OFFICIAL_LINUX_AMD64}"\n'
        f'"go1.22.10.darwin-arm64.tar.gz" = "{OFFICIAL_DARWIN_ARM64}"\n'
        f'"go1.22.10.linux-armv6l.tar.gz" = "{OFFICIAL_LINUX_ARMV6L}"\n')


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gxc test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class _Redirect(BaseHTTPRequestHandler):
    """Answers every request with a redirect to the same path over plain http."""

    def do_GET(self) -> None:
        self.send_response(302)
        self.send_header("Location", f"http://127.0.0.1:9{self.path}")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def tls_redirector(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    cert, key = self_signed(tmp_path)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Redirect)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}", cert
    server.shutdown()
    server.server_close()


def test_a_real_tls_server_redirecting_to_http_is_refused(gxc_env: dict[str, str], tls_redirector: tuple[str, Path],
                                                          tmp_path: Path) -> None:
    url, cert = tls_redirector
    env = dict(gxc_env, GXC_INDEX_URL=f"{url}/index.json", REQUESTS_CA_BUNDLE=str(cert))
    proc = gxc(env, "list-remote", cwd=tmp_path, check=False)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == (f"gxc: error: could not fetch {url}/index.json: redirected from https to plain http; "
                           "refusing the downgrade (hint: check the network or the mirror (GXC_MIRROR, GXC_INDEX_URL), "
                           "or retry with --offline)\n")
    untrusted = gxc(dict(gxc_env, GXC_INDEX_URL=f"{url}/index.json"), "list-remote", cwd=tmp_path, check=False)
    assert untrusted.returncode == 1  # without the test CA the certificate itself is refused
    assert json.dumps(untrusted.stderr).count("\\n") == 1
