"""Request body limit: ASGI middleware refusing a body over a byte count."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException as StarletteHTTPException

from searchengine.http.errors import error_response


class BodyLimit:
    """Refuse a request body over ``limit`` bytes: at once from Content-Length, or as soon
    as a chunked body passes the limit (nothing more of it is read)."""

    def __init__(self, app: Any, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        message = f"the request is larger than the upload limit of {self.limit - 64 * 1024} bytes"
        length = dict(scope.get("headers") or []).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.limit:
            await error_response(413, message)(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> dict:
            nonlocal received
            event = await receive()
            if event["type"] == "http.request":
                received += len(event.get("body", b""))
                if received > self.limit:
                    raise StarletteHTTPException(413, message)
            return event

        await self.app(scope, limited_receive, send)
