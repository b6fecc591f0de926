"""Request body limit: ASGI middleware refusing a body over a byte count."""

from __future__ import annotations

from typing import Any

import anyio

from starlette.exceptions import HTTPException as StarletteHTTPException

from searchengine.http.errors import error_response


class BodyLimit:
    """Refuse a request body over ``limit`` bytes: at once from Content-Length, or as soon
    as a chunked body passes the limit (nothing more of it is read); and one that stops
    arriving for ``timeout`` seconds (408)."""

    def __init__(self, app: Any, limit: int, timeout: float = 30.0):
        self.app, self.limit, self.timeout = app, limit, timeout

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        message = f"the request is larger than the upload limit of {self.limit - 64 * 1024} bytes"
        length = dict(scope.get("headers") or []).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.limit:
            await error_response(413, message)(scope, receive, send)
            return
        received, complete = 0, False

        async def limited_receive() -> dict:
            nonlocal received, complete
            if complete:  # e.g. waiting for the client to go away while a file streams
                return await receive()
            try:
                with anyio.fail_after(self.timeout):
                    event = await receive()
            except TimeoutError:
                raise StarletteHTTPException(408, f"the request body did not arrive within {self.timeout:g} s") from None
            if event["type"] == "http.request":
                received += len(event.get("body", b""))
                complete = not event.get("more_body", False)
                if received > self.limit:
                    raise StarletteHTTPException(413, message)
            return event

        await self.app(scope, limited_receive, send)
