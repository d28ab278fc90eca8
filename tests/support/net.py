"""Small network helpers for tests (loopback only)."""

from __future__ import annotations

import socket


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port free right now on 127.0.0.1 (``SOCK_STREAM`` for HTTP/TLS, ``SOCK_DGRAM``
    for SIP over UDP). Another process could take it before use; on loopback inside the
    test namespace nothing else does."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
