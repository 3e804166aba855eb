"""A client that only talks plain http:// loads no trust store (orch_doctor/server/tls.py), and
still refuses any TLS it did not expect; https:// and proxies keep the default verification."""

from __future__ import annotations

import contextlib
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from orch_doctor.server.probe import probe_server
from orch_doctor.server.tls import tls_verify

NO_PROXY_ENV: dict[str, str] = {}


def test_plain_http_gets_a_context_that_verifies_and_trusts_no_one() -> None:
    verify = tls_verify(["http://127.0.0.1:4096", "HTTP://localhost:1/x"], NO_PROXY_ENV)
    assert isinstance(verify, ssl.SSLContext)
    assert verify.verify_mode == ssl.CERT_REQUIRED and verify.check_hostname
    assert verify.get_ca_certs() == [] and verify.cert_store_stats()["x509_ca"] == 0


@pytest.mark.parametrize(
    ("urls", "env"),
    [
        (["https://example.org"], {}),
        (["http://127.0.0.1:4096", "https://127.0.0.1:4097"], {}),
        (["http://127.0.0.1:4096"], {"HTTP_PROXY": "http://proxy:3128"}),
        (["http://127.0.0.1:4096"], {"all_proxy": "https://proxy:3128"}),
        (["ftp://odd"], {}),
    ],
)
def test_https_a_proxy_or_anything_else_keeps_the_default_trust_store(
    urls: list[str], env: dict[str, str]
) -> None:
    assert tls_verify(urls, env) is True


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[str]:
    """https://127.0.0.1:PORT with a self-signed certificate; it completes no request."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
         "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with contextlib.suppress(OSError), conn:
                conn.settimeout(5)
                with context.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1024)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def test_the_plain_http_context_refuses_a_tls_server(tls_server: str) -> None:
    verify = tls_verify(["http://127.0.0.1:1"], NO_PROXY_ENV)
    with (
        httpx.Client(verify=verify, timeout=5) as client,
        pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"),
    ):
        client.get(tls_server)


def test_an_https_server_is_still_verified_by_the_probe(tls_server: str) -> None:
    status = probe_server(tls_server, timeout_s=5)
    assert status.verdict == "tls-error", status
