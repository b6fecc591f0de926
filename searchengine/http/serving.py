"""Starting the server: settings that would weaken its defences are refused before anything
is bound, the socket is bound before anything says "Serving", and connections have time
limits (keep-alive, request headers, request bodies)."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import Any

from searchengine.errors import InsecureSettingError, InvalidInputError
from searchengine.http.security import LOOPBACK_HOSTS, MIN_TOKEN_LENGTH, normalise_host

KEEP_ALIVE_SECONDS = 5  # an idle keep-alive connection is closed after this
REQUEST_BODY_SECONDS = 30  # a request body that stops arriving is answered 408 after this


def is_loopback(host: str) -> bool:
    host = host.strip().strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ServeSettings:
    host: str
    port: int
    token: str | None
    allowed_hosts: tuple[str, ...]
    max_upload_bytes: int

    @property
    def url_host(self) -> str:
        return f"[{self.host}]" if ":" in self.host else self.host

    @classmethod
    def check(cls, host: str, port: int, token: str | None, allowed_hosts: list[str],
              max_upload_bytes: int) -> "ServeSettings":
        """The settings, or :class:`InsecureSettingError` for any that would open the
        service to other machines or to DNS-rebinding pages without a token."""
        if token is not None and len(token) < MIN_TOKEN_LENGTH:
            raise InsecureSettingError(
                f"the API token is {len(token)} characters; use at least {MIN_TOKEN_LENGTH}, e.g. "
                "`openssl rand -hex 16 > token && searchengine serve --token-file token`")
        loopback = is_loopback(host)
        if not loopback and not token:
            raise InsecureSettingError(
                f"--host {host} is reachable from other machines; set a token (--token-file, or "
                "SEARCHENGINE_API_TOKEN) so that only holders of the token can search")
        for name in allowed_hosts:
            check_host_name(name)
            if not token and normalise_host(name) not in LOOPBACK_HOSTS:
                raise InsecureSettingError(
                    f"--allowed-host {name} lets pages under that name reach the server (DNS rebinding); "
                    "it needs a token (--token-file, or SEARCHENGINE_API_TOKEN)")
        hosts = list(allowed_hosts)
        if not hosts and not loopback:
            # a concrete address is its own name; a wildcard bind behind a token accepts any name
            # (a DNS-rebinding page has neither the token nor the session cookie)
            hosts = ["*"] if host in ("0.0.0.0", "::") else [host]
        return cls(host, port, token, tuple(hosts), max_upload_bytes)


def check_host_name(name: str) -> None:
    """``*``, or a host name or address (no port, no path, no user)."""
    if name.strip() == "*":
        return
    bare = normalise_host(name)
    if not bare or any(c in name for c in "/@?#\\ ") or bare != name.strip().strip("[]").lower().rstrip("."):
        raise InvalidInputError(f"--allowed-host {name!r} is not a host name: give a bare name such as "
                                "search.example.org (no scheme, port or path)")


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host``:``port`` (``OSError`` when it cannot be had)."""
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    # IPPROTO_TCP named, not left 0: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on
    # connections whose socket says it is TCP. Left 0, every response's body waited for the
    # client's delayed ACK of its headers: +40 ms a request for clients that delay ACKs
    # (python-httpx: 70 ms against 23 ms for an image search)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(2048)
        sock.set_inheritable(True)
    except BaseException:
        sock.close()
        raise
    return sock


def run_server(engine: Any, settings: ServeSettings, sock: socket.socket) -> None:
    """Serve ``engine`` on the bound ``sock`` until stopped."""
    import uvicorn

    from searchengine.http.app import create_app

    app = create_app(engine, api_token=settings.token, max_upload_bytes=settings.max_upload_bytes,
                     allowed_hosts=settings.allowed_hosts,
                     serve_outside_roots=engine.settings.follow_symlinks_outside)
    uvicorn.Server(server_config(app)).run(sockets=[sock])


def server_config(app: Any, **options: Any) -> Any:
    """uvicorn's settings for ``app``: idle keep-alive connections closed after
    ``KEEP_ALIVE_SECONDS``, request headers at most 16 KB and complete within
    ``HEADER_SECONDS`` (:mod:`searchengine.http.header_timeout`)."""
    import uvicorn

    from searchengine.http.header_timeout import HeaderTimeoutH11Protocol

    return uvicorn.Config(app, log_level="warning", timeout_keep_alive=KEEP_ALIVE_SECONDS,
                          h11_max_incomplete_event_size=16 * 1024, http=HeaderTimeoutH11Protocol, **options)
