"""Find a free TCP port and tell whether one is taken, before a server tries to bind it."""

from __future__ import annotations

import socket


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(_family(host), socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_in_use(host: str, port: int) -> bool:
    """True when binding would fail, which is exactly what the server is about to try."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as sock:
        # uvicorn sets SO_REUSEADDR too, so a port in TIME_WAIT is free for it and for us.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
        return False


def lan_address() -> str:
    """This machine's address on its local network, as another machine would reach it."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("192.0.2.1", 9))  # TEST-NET address; UDP connect sends nothing
            return sock.getsockname()[0]
        except OSError:
            return socket.gethostbyname(socket.gethostname())
