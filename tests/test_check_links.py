"""`make check-links` against a local HTTPS server (the internet is not reachable here)."""

from __future__ import annotations

import datetime as dt
import http.server
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from scripts.check_links import main
from tests.helpers import load_yaml


class Handler(http.server.BaseHTTPRequestHandler):
    def do_HEAD(self) -> None:  # noqa: N802 (the standard library's name)
        if self.path == "/ok":
            self.send_response(200)
        elif self.path == "/moved":
            self.send_response(301)
            self.send_header("Location", "https://localhost/new-home")
        elif self.path == "/head-refused":
            self.send_response(405)
        else:
            self.send_response(404)
        self.end_headers()

    def do_GET(self) -> None:  # noqa: N802
        self.send_response(200 if self.path == "/head-refused" else 404)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@pytest.fixture
def https_server(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    cert_file, key_file = self_signed(tmp_path)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], cert_file
    finally:
        server.shutdown()


def catalogue_with_links(tmp_path: Path, port: int, paths: list[str]) -> Path:
    document = load_yaml("content/catalogue.yml")
    linked = [e for e in document["entries"] if e.get("url")]
    for entry, path in zip(linked, paths, strict=False):
        entry["url"] = f"https://localhost:{port}{path}"
    # Links beyond the ones under test point at the working page.
    for entry in linked[len(paths) :]:
        entry["url"] = f"https://localhost:{port}/ok"
    target = tmp_path / "catalogue.yml"
    target.write_text(yaml.safe_dump(document), encoding="utf-8")
    return target


def test_reports_dead_and_moved_links_and_fails(
    tmp_path: Path, https_server: tuple[int, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    port, cert = https_server
    catalogue = catalogue_with_links(tmp_path, port, ["/ok", "/moved", "/gone", "/head-refused"])
    code = main(["--catalogue", str(catalogue), "--cafile", str(cert), "--timeout", "5"])
    out = capsys.readouterr().out
    assert code == 1
    assert "MOVED  " in out and f"https://localhost:{port}/moved" in out
    assert "301 -> https://localhost/new-home" in out
    assert "DEAD   " in out and f"https://localhost:{port}/gone" in out and "HTTP 404" in out
    assert "/head-refused" not in out  # answered GET, so it is fine
    assert "1 moved, 1 dead." in out


def test_all_links_fine_passes(
    tmp_path: Path, https_server: tuple[int, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    port, cert = https_server
    catalogue = catalogue_with_links(tmp_path, port, [])
    assert main(["--catalogue", str(catalogue), "--cafile", str(cert)]) == 0
    assert "0 moved, 0 dead." in capsys.readouterr().out


def test_an_unreachable_host_is_dead(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    catalogue = catalogue_with_links(tmp_path, 9, ["/nothing-listens-here"])  # port 9: discard
    assert main(["--catalogue", str(catalogue), "--timeout", "2"]) == 1
    assert "no answer" in capsys.readouterr().out
