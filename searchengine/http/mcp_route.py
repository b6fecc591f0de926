"""``/mcp``: the MCP server (:mod:`searchengine.assistant`) over streamable HTTP inside the
HTTP app, behind the app's own rules: its Host allow-list and same-origin check (the
app's middleware) and its API token (checked here, as for /api/)."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable

from starlette.requests import Request
from starlette.routing import Route

if TYPE_CHECKING:
    from starlette.responses import Response

    from searchengine.engine import SearchEngine


class _Endpoint:
    """An ASGI endpoint: the token check, then the SDK's session manager."""

    def __init__(self, handle: Any, check: Callable[[Request], "Response | None"]):
        self.handle, self.check = handle, check

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        refused = self.check(Request(scope, receive))
        if refused is not None:
            await refused(scope, receive, send)
            return
        await self.handle(scope, receive, send)


def mcp_route(engine: "SearchEngine", check: Callable[[Request], "Response | None"]
              ) -> tuple[Route, Callable[[Any], contextlib.AbstractAsyncContextManager[None]]]:
    """The ``/mcp`` route and the lifespan that runs the SDK's session manager (the app
    serving the route must enter it). ``check(request)``: a refusal response, or None.
    Media URLs in results are relative to ``/mcp`` (``api/items/ID/media``), so that they
    resolve under whatever prefix the app is mounted at."""
    from searchengine.assistant.server import build_server

    server = build_server(engine, media_root=".")
    server.streamable_http_app(streamable_http_path="/mcp", stateless_http=True, json_response=True,
                               transport_security=_no_transport_checks())  # makes the session manager
    manager = server.session_manager

    @contextlib.asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        async with manager.run():
            yield

    route = Route("/mcp", endpoint=_Endpoint(manager.handle_request, check), methods=["GET", "POST", "DELETE"],
                  include_in_schema=False)
    return route, lifespan


def _no_transport_checks() -> Any:
    """Host and Origin are the app's middleware's to check (one rule for every route)."""
    from mcp.server.transport_security import TransportSecuritySettings

    return TransportSecuritySettings(enable_dns_rebinding_protection=False)
