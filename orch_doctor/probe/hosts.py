"""Whether a host answers from here: one bounded HTTPS connect (DNS, TCP and the TLS handshake
within ``REACH_TIMEOUT_S``), cached per process. Which hosts to check is not this module's
business (``resolve/measure.py`` asks only for what an applicable known issue needs)."""

from __future__ import annotations

#: one HTTPS connect (DNS, TCP and the TLS handshake together) gets this long
REACH_TIMEOUT_S = 2.0
_answered: dict[str, bool] = {}


def reachable(host: str, timeout_s: float = REACH_TIMEOUT_S) -> bool:
    """Whether ``host`` completes a TLS handshake on port 443 within ``timeout_s``; once per
    process and host."""
    if host in _answered:
        return _answered[host]
    import socket
    import ssl
    import time

    deadline = time.monotonic() + timeout_s
    ok = False
    try:
        with socket.create_connection((host, 443), timeout=timeout_s) as sock:
            sock.settimeout(max(0.05, deadline - time.monotonic()))
            context = ssl.create_default_context()
            with context.wrap_socket(sock, server_hostname=host):
                ok = True
    except (OSError, ValueError):
        ok = False
    _answered[host] = ok
    return ok
