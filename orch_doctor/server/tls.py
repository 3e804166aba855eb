"""What an HTTP client verifies TLS with: a client that only ever talks plain ``http://`` needs
no trust store, and loading one costs each client 20-30 ms (every CA certificate parsed) on the
path of every spawn.

Such a client gets a context that still verifies certificates and host names but trusts no CA:
a TLS handshake it did not expect fails closed. Any ``https://`` URL, or a proxy in the
environment (the client may speak TLS to it), keeps the default trust store."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ssl

#: the variables httpx reads proxies from (trust_env), in either case
PROXY_ENV = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


def proxied(env: Mapping[str, str] | None = None) -> bool:
    """Whether ``env`` (default: this process's, which httpx reads) names a proxy."""
    env = os.environ if env is None else env
    return any(env.get(name) or env.get(name.lower()) for name in PROXY_ENV)


def tls_verify(urls: Iterable[str], env: Mapping[str, str] | None = None) -> ssl.SSLContext | bool:
    """httpx's ``verify`` for a client that talks to ``urls`` only: ``True`` (the default trust
    store) when one of them is not plain ``http://`` or a proxy is configured, else a context
    that trusts no CA (no TLS is expected: any handshake fails)."""
    if proxied(env) or any(not u.strip().lower().startswith("http://") for u in urls):
        return True
    import ssl  # httpx imports it anyway; a caller that only decides does not

    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED, check_hostname, no CA


__all__ = ["PROXY_ENV", "proxied", "tls_verify"]
