"""Refusing other origins: a Host allow-list (against DNS rebinding), a same-origin check
on every state-changing request (against cross-site request forgery), and security headers
(nosniff, Content-Security-Policy, Cross-Origin-Resource-Policy) on every response.

Pure ASGI middleware, so it also guards what FastAPI does not route (static files, 404s)."""

from __future__ import annotations

import json
import re
from typing import Any, Iterable
from urllib.parse import urlsplit

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MIN_TOKEN_LENGTH = 16

# The page: its own scripts, styles, thumbnails and media only; no inline script; the one
# thing it embeds is this server's own (a PDF opened at its page in the viewer: the browser's
# PDF viewer is an <object> that loads in a frame). No other site may frame the page.
PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
            "media-src 'self' blob:; object-src 'self'; frame-src 'self'; connect-src 'self'; "
            "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
# Media, thumbnails and JSON: nothing in them may run, even if a browser is tricked into
# rendering one as a document; only this server's own page may embed them (the viewer's PDF).
MEDIA_CSP = "default-src 'none'; img-src 'self'; media-src 'self'; sandbox; frame-ancestors 'self'"
# /docs (Swagger UI) loads its script and styles from a CDN and runs one inline script.
DOCS_CSP = ("default-src 'none'; script-src 'self' 'unsafe-inline'; "  # Swagger UI, shipped (no CDN)
            "style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "connect-src 'self'; frame-ancestors 'none'")


_HOST = re.compile(r"(?:\[(?P<v6>[0-9a-f:.]+)\]|(?P<name>[a-z0-9_.-]+))(?::(?P<port>[0-9]{1,5}))?")


def normalise_host(host: str) -> str:
    """``host`` or ``host:port`` (``[v6]`` or ``[v6]:port``) -> the bare lower-case name, or
    ``""`` when it is not exactly an RFC 3986 authority without user info (nothing after the
    port: ``localhost:80@evil`` and ``[::1]evil.com`` are not hosts)."""
    m = _HOST.fullmatch(host.strip().lower())
    if m is None:
        return ""
    return m.group("v6") or (m.group("name") or "").rstrip(".")


class OriginGuard:
    """ASGI middleware. ``allowed_hosts``: names (no port) the Host header may carry besides
    the loopback ones; ``"*"`` allows any (only sensible behind a proxy that checks it)."""

    def __init__(self, app: Any, allowed_hosts: Iterable[str] = ()):
        self.app = app
        names = [h.strip() for h in allowed_hosts if h.strip()]
        self.any_host = "*" in names
        extra = [bare for bare in map(normalise_host, names) if bare]
        self.allowed = {*LOOPBACK_HOSTS, *extra}

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}
        host = headers.get("host", "")
        bare = normalise_host(host)
        if not bare or (not self.any_host and bare not in self.allowed):
            await _refuse(send, 400, "invalid_host",
                          f"the Host {host!r} is not one this server answers to (DNS rebinding "
                          "protection); use http://127.0.0.1:PORT/, or start the server with "
                          "--allowed-host NAME")
            return
        method = scope.get("method", "GET").upper()
        problem = self._cross_site(method, headers, scope)
        if problem:
            await _refuse(send, 403, "forbidden_origin", problem)
            return
        path = scope.get("path", "")
        root = scope.get("root_path", "")
        rel = path[len(root):] if root and path.startswith(root) else path

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                extra = [(b"x-content-type-options", b"nosniff"),
                         (b"referrer-policy", b"no-referrer"),
                         (b"content-security-policy", _csp_for(rel).encode())]
                if rel.startswith("/api/"):
                    extra.append((b"cross-origin-resource-policy", b"same-origin"))
                present = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [h for h in extra if h[0] not in present]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _cross_site(self, method: str, headers: dict[str, str], scope: dict) -> str | None:
        """Why this request must be refused as coming from another site, or None."""
        origin = headers.get("origin")
        fetch_site = headers.get("sec-fetch-site", "").lower()
        if method in STATE_CHANGING:
            if origin is not None:
                if not _same_origin(origin, headers.get("host", ""), scope):
                    return (f"cross-origin {method} refused: the request comes from {origin!r}, not "
                            "from this server's own page")
                return None
            if fetch_site and fetch_site not in ("same-origin", "none"):
                return f"cross-site {method} refused (Sec-Fetch-Site: {fetch_site})"
            return None  # no browser headers: curl, scripts
        if (scope.get("path", "").find("/api/") >= 0 and fetch_site == "cross-site"
                and headers.get("sec-fetch-mode", "") != "navigate"):
            return "another site may not read or embed this server's data (Sec-Fetch-Site: cross-site)"
        return None


def _same_origin(origin: str, host: str, scope: dict) -> bool:
    if origin == "null":
        return False
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False
    scheme = scope.get("scheme", "http")
    return parts.scheme == scheme and parts.netloc.lower() == host.strip().lower()


def _csp_for(rel: str) -> str:
    if rel in ("/docs", "/redoc") or rel.startswith("/docs/"):
        return DOCS_CSP
    if rel.startswith("/api/"):
        return MEDIA_CSP
    return PAGE_CSP


async def _refuse(send: Any, status: int, code: str, message: str) -> None:
    body = json.dumps({"error": {"status": status, "code": code, "message": message}}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"x-content-type-options", b"nosniff"), (b"content-security-policy", MEDIA_CSP.encode()),
    ]})
    await send({"type": "http.response.body", "body": body})
