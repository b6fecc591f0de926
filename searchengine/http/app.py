"""The FastAPI app: JSON API under /api/, the web page at /.

Every error has one shape, ``{"error": {"status", "code", "message", "details"}}``. Files
are reached by id only: no path from a request ever reaches the filesystem, and a file is
served only if it lies inside one of the index's folders.

The routes live in :mod:`searchengine.http.routes` (one module per area) over one shared
:class:`~searchengine.http.state.AppState`; this module only assembles them.
"""

from __future__ import annotations

from typing import Iterable, Optional

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from searchengine.engine import SearchEngine
from searchengine.errors import InsecureSettingError
from searchengine.http.auth import SESSION_COOKIE, session_value
from searchengine.http.errors import ERRORS, ApiError, check_range, install_error_handlers
from searchengine.http.limits import BodyLimit
from searchengine.http.memory import bound_heap
from searchengine.http.docs_page import add_offline_docs
from searchengine.http.mcp_route import mcp_route
from searchengine.http.routes import duplicates, items, jobs, page, search
from searchengine.http.security import MIN_TOKEN_LENGTH, OriginGuard
from searchengine.http.serving import REQUEST_BODY_SECONDS
from searchengine.http.state import (
    DEFAULT_MAX_UPLOAD,
    UPLOAD_MAX_PIXELS,
    UPLOAD_PIXEL_BUDGET,
    AppState,
)
from searchengine.http.auth import require_token, token_dependencies
from searchengine.http.errors import error_response

__all__ = ["create_app", "ApiError", "check_range", "session_value", "SESSION_COOKIE", "DEFAULT_MAX_UPLOAD",
           "UPLOAD_MAX_PIXELS", "UPLOAD_PIXEL_BUDGET", "AppState"]


def create_app(engine: SearchEngine, *, api_token: str | None = None,
               max_upload_bytes: int = DEFAULT_MAX_UPLOAD, allowed_hosts: Iterable[str] = (),
               serve_outside_roots: bool = False) -> FastAPI:
    """An app serving ``engine``. With ``api_token`` (at least ``MIN_TOKEN_LENGTH``
    characters), every /api/ call but health must send ``Authorization: Bearer TOKEN`` (or
    ``X-API-Token``, or ``?token=``; the page trades it for a same-site cookie once).

    Only requests whose Host is a loopback name (``127.0.0.1``, ``localhost``, ``[::1]``,
    any port) or one of ``allowed_hosts`` are answered; state-changing requests from other
    origins are refused. A file is served only while its real path lies under the real path
    of one of the index's folders (``serve_outside_roots`` lifts that, for indexes built
    with symlinks followed outside) and it is still the file that was indexed."""
    if api_token is not None and len(api_token) < MIN_TOKEN_LENGTH:
        raise InsecureSettingError(
            f"the API token is {len(api_token)} characters; use at least {MIN_TOKEN_LENGTH}, e.g. "
            "`openssl rand -hex 16`"
        )
    allowed_hosts = list(allowed_hosts)
    if not api_token and any(h.strip() == "*" for h in allowed_hosts):
        raise InsecureSettingError("allowed_hosts '*' (any Host) without an API token lets any page reach the "
                                   "server through DNS rebinding; set a token")
    def mcp_refusal(request: Request) -> Optional[JSONResponse]:
        try:
            require_token(request, api_token)
        except ApiError as exc:
            response = error_response(exc.status, exc.message, exc.code)
            response.headers.update(exc.headers)
            return response
        return None

    mcp_endpoint, mcp_lifespan = mcp_route(engine, mcp_refusal)  # /mcp: MCP over streamable HTTP
    app = FastAPI(
        title="searchengine",
        version="0.1.0",
        description="Cross-modal semantic search over photos, recordings and documents.",
        responses={422: ERRORS[422]},
        lifespan=mcp_lifespan,
        docs_url=None, redoc_url=None,  # /docs below, from shipped files: it works offline
    )
    state = AppState(engine, api_token=api_token, max_upload_bytes=max_upload_bytes,
                     serve_outside_roots=serve_outside_roots)
    app.state.search = state
    bound_heap()  # memory of big decodes goes back to the OS (benchmarks/bench_upload_bombs.py)

    install_error_handlers(app)
    app.add_middleware(BodyLimit, limit=max_upload_bytes + 64 * 1024,  # + multipart overhead
                       timeout=REQUEST_BODY_SECONDS)
    app.add_middleware(OriginGuard, allowed_hosts=list(allowed_hosts))  # outermost: first to run

    app.include_router(jobs.health_router(state))
    guarded = {"dependencies": token_dependencies(api_token),
               "responses": {401: ERRORS[401]} if api_token else None}
    for module in (jobs, search, duplicates, items):
        app.include_router(module.router(state), **guarded)  # type: ignore[arg-type]
    app.router.routes.append(mcp_endpoint)
    add_offline_docs(app)
    page.mount_page(app)
    return app
