"""The API token: checked on every /api/ call but health, from a header, ``?token=`` or the
page's session cookie (derived from the token, never the token itself)."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from fastapi import Depends, Request
from fastapi.params import Depends as DependsParam
from fastapi.security import APIKeyHeader, HTTPBearer

from searchengine.http.errors import ApiError

SESSION_COOKIE = "searchengine_session"


def session_value(api_token: str) -> str:
    """The cookie the page gets for a token: derived from it, never the token itself."""
    return hmac.new(api_token.encode(), b"searchengine-session", hashlib.sha256).hexdigest()


def require_token(request: Request, api_token: str | None) -> None:
    if not api_token:
        return
    given = request.headers.get("x-api-token") or request.query_params.get("token") or ""
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        given = auth[7:].strip()
    cookie = request.cookies.get(SESSION_COOKIE, "")
    if not given and cookie and hmac.compare_digest(cookie.encode(), session_value(api_token).encode()):
        return
    if not hmac.compare_digest(given.encode(), api_token.encode()):
        raise ApiError(401, "missing or wrong API token: send 'Authorization: Bearer TOKEN'")


def token_dependencies(api_token: str | None) -> list[DependsParam]:
    """Dependencies for the routers that need the token (none without one)."""
    if not api_token:
        return []
    # declared for OpenAPI; the check itself is require_token (which also takes ?token=)
    bearer = HTTPBearer(auto_error=False, description="The server's --token.")
    header_key = APIKeyHeader(name="X-API-Token", auto_error=False)

    def authorised(request: Request, _b: Any = Depends(bearer), _h: Any = Depends(header_key)) -> None:
        require_token(request, api_token)

    return [Depends(authorised)]
