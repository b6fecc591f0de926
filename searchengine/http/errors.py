"""The API's one error shape, ``{"error": {"status", "code", "message", "details"}}``, and
the exception handlers that give every failure that shape."""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from searchengine.errors import (
    IndexBusyError,
    IndexUnavailableError,
    InvalidInputError,
    MediaDecodeError,
    ModelUnavailableError,
    SearchEngineError,
)
from searchengine.http.schemas import ErrorResponse

log = logging.getLogger("searchengine.http.app")

MAX_RANGE_DIGITS = 18  # bigger than any file; int() of 4,300+ digits would even raise
CODES = {400: "invalid_input", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
         408: "request_timeout", 409: "conflict", 413: "too_large", 415: "unsupported_media", 416: "range_not_satisfiable",
         422: "invalid_request", 503: "unavailable", 500: "internal"}
# OpenAPI "responses" entries, by status
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (400, 401, 404, 409, 413, 415, 422, 503)}


class ApiError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.code = status, message, code or CODES.get(status, "error")
        self.headers = headers or {}


def error_response(status: int, message: str, code: str | None = None, details: list | None = None) -> JSONResponse:
    body: dict[str, Any] = {"status": status, "code": code or CODES.get(status, "error"), "message": message}
    if details is not None:
        body["details"] = details
    return JSONResponse({"error": body}, status_code=status)


def short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def check_range(header: str, size: int) -> None:
    """Refuse, in the API's error shape, a Range header that is malformed (400) or that asks
    for nothing inside the file (416). Good ones are served by FileResponse."""
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or not spec.strip():
        raise ApiError(400, f"malformed Range header {header!r}: use e.g. 'bytes=0-1023'")
    for part in spec.split(","):
        m = re.fullmatch(r"\s*(\d*)\s*-\s*(\d*)\s*", part)
        if not m or not (m.group(1) or m.group(2)):
            raise ApiError(400, f"malformed Range header {short(header)!r}: use e.g. 'bytes=0-1023'")
        start, end = m.group(1), m.group(2)
        if len(start) > MAX_RANGE_DIGITS or len(end) > MAX_RANGE_DIGITS:
            raise ApiError(416, f"the range {short(part.strip())!r} is outside the file ({size} bytes)",
                           headers={"Content-Range": f"bytes */{size}"})
        if start and end and int(end) < int(start):
            raise ApiError(400, f"malformed Range header {short(header)!r}: a range ends before it starts")
        if (start and int(start) >= size) or (not start and int(end) == 0):
            raise ApiError(416, f"the range {short(part.strip())!r} is outside the file ({size} bytes)",
                           headers={"Content-Range": f"bytes */{size}"})


def install_error_handlers(app: FastAPI) -> None:
    """Every error the app can raise answered in the one shape."""

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        response = error_response(exc.status, exc.message, exc.code)
        response.headers.update(exc.headers)
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [{"field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"),
                    "problem": e.get("msg", "")} for e in exc.errors()]
        summary = "; ".join(f"{d['field']}: {d['problem']}" for d in details)
        return error_response(422, f"invalid request: {summary}", details=details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        response = error_response(exc.status_code, str(exc.detail))
        response.headers.update(exc.headers or {})
        return response

    @app.exception_handler(SearchEngineError)
    async def _domain(_: Request, exc: SearchEngineError) -> JSONResponse:
        if isinstance(exc, IndexBusyError):
            return error_response(409, str(exc))
        if isinstance(exc, (InvalidInputError, MediaDecodeError)):
            return error_response(400, str(exc))
        if isinstance(exc, (IndexUnavailableError, ModelUnavailableError)):
            return error_response(503, str(exc))
        return error_response(500, str(exc))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return error_response(500, f"unexpected error: {type(exc).__name__}")
