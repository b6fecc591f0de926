"""The FastAPI app: JSON API under /api/, the web page at /.

Every error has one shape, ``{"error": {"status", "code", "message", "details"}}``. Files
are reached by id only: no path from a request ever reaches the filesystem, and a file is
served only if it lies inside one of the index's folders.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import io
import re
import logging
import mimetypes
import os
import stat
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from enum import IntEnum
from typing import Annotated, Any, Iterable, Optional, Sequence, cast

from fastapi import APIRouter, Depends, FastAPI, File, Form, Query, Request, UploadFile
from fastapi import Header
from fastapi import Path as PathParam
from fastapi.security import APIKeyHeader, HTTPBearer
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from searchengine.duplicates.finder import DEFAULT_THRESHOLD, MIN_THRESHOLD
from searchengine.http.duplicates import duplicates_out
from searchengine.engine import SearchEngine
from searchengine.errors import (
    IndexBusyError,
    IndexUnavailableError,
    InsecureSettingError,
    InvalidInputError,
    MediaDecodeError,
    ModelUnavailableError,
    SearchEngineError,
)
from searchengine.query.hits import Hit
from searchengine.query.filters import SearchFilters
from searchengine.store.repository import UnitRow
from searchengine.http.jobs import IndexJobs, Job
from searchengine.http.schemas import (
    DuplicatesKind,
    DuplicatesResponse,
    ErrorResponse,
    HealthOut,
    HitOut,
    ItemOut,
    JobOut,
    Modality,
    SearchMode,
    SearchRequest,
    SearchResponse,
    StatusOut,
)
from searchengine.http.memory import bound_heap
from searchengine.http.docs_page import add_offline_docs
from searchengine.http.mcp_route import mcp_route
from searchengine.http.security import MIN_TOKEN_LENGTH, OriginGuard
from searchengine.http.thumbnails import thumbnail
from searchengine.media.images import PixelBudget, load_image
from searchengine.media.kinds import RECORDINGS
from searchengine.media.pathnames import display_path, is_real_under

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
DEFAULT_MAX_UPLOAD = 20 * 1024 * 1024
UPLOAD_MAX_PIXELS = 64_000_000  # bounds the memory one query image can take while decoding
# pixels of uploads decoded at once, all requests together (a 64 Mpx RGBA image is 256 MB):
# concurrent decompression bombs queue instead of adding up
UPLOAD_PIXEL_BUDGET = 64_000_000
MAX_RANGE_DIGITS = 18  # bigger than any file; int() of 4,300+ digits would even raise
SESSION_COOKIE = "searchengine_session"
_CODES = {400: "invalid_input", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
          409: "conflict", 413: "too_large", 415: "unsupported_media", 416: "range_not_satisfiable",
          422: "invalid_request", 503: "unavailable", 500: "internal"}
class ThumbnailSize(IntEnum):
    small = 128
    medium = 256
    large = 512


ItemId = Annotated[int, PathParam(ge=1, le=2**63 - 1, description="Id of an indexed item.")]
_ERRORS = {code: {"model": ErrorResponse} for code in (400, 401, 404, 409, 413, 415, 422, 503)}


class ApiError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.code = status, message, code or _CODES.get(status, "error")
        self.headers = headers or {}


def _error(status: int, message: str, code: str | None = None, details: list | None = None) -> JSONResponse:
    body: dict[str, Any] = {"status": status, "code": code or _CODES.get(status, "error"), "message": message}
    if details is not None:
        body["details"] = details
    return JSONResponse({"error": body}, status_code=status)


def check_range(header: str, size: int) -> None:
    """Refuse, in the API's error shape, a Range header that is malformed (400) or that asks
    for nothing inside the file (416). Good ones are served by FileResponse."""
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or not spec.strip():
        raise ApiError(400, f"malformed Range header {header!r}: use e.g. 'bytes=0-1023'")
    for part in spec.split(","):
        m = re.fullmatch(r"\s*(\d*)\s*-\s*(\d*)\s*", part)
        if not m or not (m.group(1) or m.group(2)):
            raise ApiError(400, f"malformed Range header {_short(header)!r}: use e.g. 'bytes=0-1023'")
        start, end = m.group(1), m.group(2)
        if len(start) > MAX_RANGE_DIGITS or len(end) > MAX_RANGE_DIGITS:
            raise ApiError(416, f"the range {_short(part.strip())!r} is outside the file ({size} bytes)",
                           headers={"Content-Range": f"bytes */{size}"})
        if start and end and int(end) < int(start):
            raise ApiError(400, f"malformed Range header {_short(header)!r}: a range ends before it starts")
        if (start and int(start) >= size) or (not start and int(end) == 0):
            raise ApiError(416, f"the range {_short(part.strip())!r} is outside the file ({size} bytes)",
                           headers={"Content-Range": f"bytes */{size}"})


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def session_value(api_token: str) -> str:
    """The cookie the page gets for a token: derived from it, never the token itself."""
    return hmac.new(api_token.encode(), b"searchengine-session", hashlib.sha256).hexdigest()


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
            await _error(413, message)(scope, receive, send)
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
    def mcp_refusal(request: Request) -> Optional[JSONResponse]:
        try:
            require_token(request)  # defined below; called per request
        except ApiError as exc:
            response = _error(exc.status, exc.message, exc.code)
            response.headers.update(exc.headers)
            return response
        return None

    mcp_endpoint, mcp_lifespan = mcp_route(engine, mcp_refusal)  # /mcp: MCP over streamable HTTP
    app = FastAPI(
        title="searchengine",
        version="0.1.0",
        description="Cross-modal semantic search over photos, recordings and documents.",
        responses={422: _ERRORS[422]},
        lifespan=mcp_lifespan,
        docs_url=None, redoc_url=None,  # /docs below, from shipped files: it works offline
    )
    jobs = IndexJobs(engine)
    thumbs_dir = engine.layout.folder / "thumbnails"
    pixel_budget = PixelBudget(UPLOAD_PIXEL_BUDGET)
    bound_heap()  # memory of big decodes goes back to the OS (benchmarks/bench_upload_bombs.py)

    # -- errors: one shape ------------------------------------------------------------

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        response = _error(exc.status, exc.message, exc.code)
        response.headers.update(exc.headers)
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [{"field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"),
                    "problem": e.get("msg", "")} for e in exc.errors()]
        summary = "; ".join(f"{d['field']}: {d['problem']}" for d in details)
        return _error(422, f"invalid request: {summary}", details=details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        response = _error(exc.status_code, str(exc.detail))
        response.headers.update(exc.headers or {})
        return response

    @app.exception_handler(SearchEngineError)
    async def _domain(_: Request, exc: SearchEngineError) -> JSONResponse:
        if isinstance(exc, IndexBusyError):
            return _error(409, str(exc))
        if isinstance(exc, (InvalidInputError, MediaDecodeError)):
            return _error(400, str(exc))
        if isinstance(exc, (IndexUnavailableError, ModelUnavailableError)):
            return _error(503, str(exc))
        return _error(500, str(exc))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return _error(500, f"unexpected error: {type(exc).__name__}")

    app.add_middleware(BodyLimit, limit=max_upload_bytes + 64 * 1024)  # + multipart overhead
    app.add_middleware(OriginGuard, allowed_hosts=list(allowed_hosts))  # outermost: first to run

    # -- auth ---------------------------------------------------------------------------

    def require_token(request: Request) -> None:
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

    if api_token:
        # declared for OpenAPI; the check itself is require_token (which also takes ?token=)
        bearer = HTTPBearer(auto_error=False, description="The server's --token.")
        header_key = APIKeyHeader(name="X-API-Token", auto_error=False)

        def authorised(request: Request, _b: Any = Depends(bearer), _h: Any = Depends(header_key)) -> None:
            require_token(request)

        api = APIRouter(dependencies=[Depends(authorised)], responses={401: _ERRORS[401]})
    else:
        api = APIRouter()

    # -- helpers ------------------------------------------------------------------------

    def hit_out(hit: Hit, root: str) -> HitOut:
        return HitOut(
            id=hit.id, path=display_path(hit.path), name=display_path(os.path.basename(hit.path)),
            modality=cast(Modality, hit.modality),
            score=hit.score, start=hit.start, end=hit.end, text=hit.text, moment=hit.moment,
            found_by=list(hit.found_by) if hit.found_by else None,  # type: ignore[arg-type]
            highlights=[tuple(s) for s in hit.highlights] if hit.highlights else None,  # type: ignore[misc]
            kind=hit.kind, box=hit.box,  # type: ignore[arg-type]
            media_url=f"{root}/api/items/{hit.id}/media",
            thumbnail_url=f"{root}/api/items/{hit.id}/thumbnail" if hit.modality == "image" else None,
        )

    def page(request: Request, hits: list[Hit], k: int, offset: int) -> SearchResponse:
        """A page of hits; links carry the prefix the app is mounted under, if any."""
        root = request.scope.get("root_path", "").rstrip("/")
        return SearchResponse(hits=[hit_out(h, root) for h in hits], k=k, offset=offset,
                              next_offset=offset + k if len(hits) == k else None)

    def filters_of(modality: Optional[Sequence[str]], path: Optional[str], after: Optional[datetime],
                   before: Optional[datetime]) -> SearchFilters:
        return SearchFilters.of(modality, path, after, before)

    def unit_or_404(item_id: int) -> UnitRow:
        row = engine.item(item_id)
        if row is None:
            raise ApiError(404, f"no indexed item has id {item_id}")
        return row

    def servable(row: UnitRow) -> Path:
        """The real path of an item's file (its stored path was written by the indexer's
        walk, never taken from a request), if it lies under the real path of one of the
        index's folders and is still the file that was indexed: a regular file with the
        stored size and modification time (and device and inode, where stored)."""
        real = os.path.realpath(row.path)
        if not serve_outside_roots:
            real_roots = {os.path.realpath(r) for r in engine.roots()}
            if not is_real_under(real, real_roots):
                raise ApiError(404, f"item {row.id}'s file is not inside the index's folders "
                                    "(a symlink out of them?); it is not served")
        try:
            st = os.stat(real)
        except OSError:
            raise ApiError(404, "the file is no longer on disk; re-index to update") from None
        same_time = st.st_mtime_ns == row.mtime_ns or (row.modality in RECORDINGS and st.st_mtime_ns <= row.mtime_ns)
        same_inode = row.device is None or (st.st_dev, st.st_ino) == (row.device, row.inode)
        if not stat.S_ISREG(st.st_mode) or st.st_size != row.size or not same_time or not same_inode:
            raise ApiError(404, f"item {row.id}'s file changed since it was indexed; re-index to update")
        return Path(real)

    def job_out(job: Job | None) -> JobOut | None:
        return JobOut(**asdict(job)) if job else None

    # -- endpoints ----------------------------------------------------------------------

    @app.get("/api/health", response_model=HealthOut, tags=["service"])
    def health() -> HealthOut:
        """Liveness; needs no token."""
        return HealthOut(status="ok", model_loaded=engine.model_loaded)

    @api.get("/api/status", response_model=StatusOut, tags=["service"])
    def status() -> StatusOut:
        st = asdict(engine.status())
        st.pop("folder", None)
        return StatusOut(**st, job=job_out(jobs.current()))

    @api.get("/api/search", response_model=SearchResponse, tags=["search"],
             responses={400: _ERRORS[400]})
    def search_get(
        request: Request,
        q: Annotated[str, Query(min_length=1, max_length=2000, pattern=r"\S", description="Text to search for.")],
        k: Annotated[int, Query(ge=1, le=1000)] = 10,
        offset: Annotated[int, Query(ge=0, le=100000)] = 0,
        modality: Annotated[Optional[list[Modality]], Query()] = None,
        path: Annotated[Optional[str], Query(max_length=1000, description="Glob, e.g. *.jpg")] = None,
        after: Optional[datetime] = None,
        before: Optional[datetime] = None,
        mode: SearchMode = "hybrid",
    ) -> SearchResponse:
        """Search by text."""
        return search_post(request, SearchRequest(q=q, k=k, offset=offset, modality=modality,
                                                  path=path, after=after, before=before, mode=mode))

    @api.post("/api/search", response_model=SearchResponse, tags=["search"],
              responses={400: _ERRORS[400]})
    def search_post(request: Request, body: SearchRequest) -> SearchResponse:
        """Search by text, with the query in a JSON body."""
        hits = engine.search(body.q, k=body.k, offset=body.offset, mode=body.mode,
                             filters=filters_of(body.modality, body.path, body.after, body.before))
        return page(request, hits, body.k, body.offset)

    @api.post("/api/search/image", response_model=SearchResponse, tags=["search"],
              responses={400: _ERRORS[400], 413: _ERRORS[413]})
    def search_image(
        request: Request,
        file: Annotated[UploadFile, File(description="The query image.")],
        k: Annotated[int, Form(ge=1, le=1000)] = 10,
        offset: Annotated[int, Form(ge=0, le=100000)] = 0,
        modality: Annotated[Optional[list[Modality]], Form()] = None,
        path: Annotated[Optional[str], Form(max_length=1000)] = None,
        after: Annotated[Optional[datetime], Form()] = None,
        before: Annotated[Optional[datetime], Form()] = None,
    ) -> SearchResponse:
        """Search by an uploaded image (multipart field ``file``)."""
        data = file.file.read(max_upload_bytes + 1)
        if len(data) > max_upload_bytes:
            raise ApiError(413, f"the upload is larger than the limit of {max_upload_bytes} bytes")
        if not data:
            raise ApiError(400, "the uploaded file is empty")
        try:
            query = load_image(io.BytesIO(data), max_pixels=UPLOAD_MAX_PIXELS, pixel_gate=pixel_budget.reserve)
        except MediaDecodeError as exc:
            raise ApiError(400, f"the upload {display_path(file.filename or '')!r} cannot be used: {exc}") from None
        finally:
            del data
        hits = engine.search(image=query, k=k, offset=offset, filters=filters_of(modality, path, after, before))
        return page(request, hits, k, offset)

    @api.get("/api/items/{item_id}/similar", response_model=SearchResponse, tags=["search"], responses={404: _ERRORS[404]})
    def similar(
        request: Request,
        item_id: ItemId,
        k: Annotated[int, Query(ge=1, le=1000)] = 10,
        offset: Annotated[int, Query(ge=0, le=100000)] = 0,
        modality: Annotated[Optional[list[Modality]], Query()] = None,
        path: Annotated[Optional[str], Query(max_length=1000)] = None,
        after: Optional[datetime] = None,
        before: Optional[datetime] = None,
    ) -> SearchResponse:
        """More like this: items near an indexed item."""
        unit_or_404(item_id)
        hits = engine.search(similar_to=item_id, k=k, offset=offset,
                             filters=filters_of(modality, path, after, before))
        return page(request, hits, k, offset)

    @api.get("/api/duplicates", response_model=DuplicatesResponse, tags=["search"],
             responses={400: _ERRORS[400]})
    def duplicates(
        request: Request,
        threshold: Annotated[float, Query(ge=MIN_THRESHOLD, le=1.0, description="Near-duplicate photos: "
                                          "cosine similarity at least this.")] = DEFAULT_THRESHOLD,
        kind: DuplicatesKind = "all",
        limit: Annotated[int, Query(ge=1, le=1000, description="At most this many groups of each kind.")] = 100,
        path: Annotated[Optional[str], Query(max_length=1000, description="Glob, e.g. /photos/2023/*")] = None,
    ) -> DuplicatesResponse:
        """Exact copies (same content) and near-duplicate photos (with their similarity), in groups."""
        report = engine.duplicates(threshold, kind=kind, limit=limit, filters=filters_of(None, path, None, None))
        return duplicates_out(report, request.scope.get("root_path", "").rstrip("/"))

    @api.get("/api/items/{item_id}", response_model=ItemOut, tags=["items"],
             responses={404: _ERRORS[404]})
    def item(request: Request, item_id: ItemId) -> ItemOut:
        row = unit_or_404(item_id)
        root = request.scope.get("root_path", "").rstrip("/")
        return ItemOut(
            id=row.id, path=display_path(row.path), name=display_path(os.path.basename(row.path)),
            modality=cast(Modality, row.modality),
            start=row.start, end=row.end, text=row.text, size=row.size,
            modified=datetime.fromtimestamp(row.mtime_ns / 1e9, tz=timezone.utc),
            content_hash=row.content_hash, media_url=f"{root}/api/items/{row.id}/media",
            thumbnail_url=f"{root}/api/items/{row.id}/thumbnail" if row.modality == "image" else None,
            transcript=engine.transcript(row.id),
        )

    @api.get("/api/items/{item_id}/thumbnail", tags=["items"],
             response_class=FileResponse,
             responses={200: {"content": {"image/jpeg": {}}, "description": "A JPEG image."},
                        404: _ERRORS[404], 415: _ERRORS[415]})
    def item_thumbnail(item_id: ItemId, size: Annotated[ThumbnailSize, Query(description="Longer side in pixels.")] = ThumbnailSize.medium):
        """A JPEG thumbnail of an image item (made once, cached on disk)."""
        row = unit_or_404(item_id)
        if row.modality != "image":
            raise ApiError(415, f"item {item_id} is {row.modality}; only images have thumbnails")
        source = servable(row)
        try:
            thumb = thumbnail(source, row.content_hash, int(size), thumbs_dir)
        except MediaDecodeError as exc:
            raise ApiError(415, str(exc)) from None
        return FileResponse(thumb, media_type="image/jpeg", headers={"Cache-Control": "max-age=86400"})

    @api.get("/api/items/{item_id}/media", tags=["items"],
             response_class=FileResponse,
             responses={200: {"content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
                              "description": "The file, with its own media type."},
                        206: {"description": "The requested byte range(s)."},
                        400: _ERRORS[400], 404: _ERRORS[404],
                        416: {"model": ErrorResponse, "description": "Range not satisfiable."}})
    def item_media(item_id: ItemId, range_header: Annotated[Optional[str], Header(alias="range", include_in_schema=False)] = None):
        """The original file; supports HTTP range requests (seeking audio and video)."""
        row = unit_or_404(item_id)
        path = servable(row)
        if range_header is not None:
            check_range(range_header, path.stat().st_size)
        name = os.path.basename(row.path)
        media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return FileResponse(path, media_type=media_type, filename=display_path(name),
                            content_disposition_type="inline")

    @api.post("/api/session", status_code=204, tags=["service"], response_class=Response,
              responses={204: {"description": "A session cookie was set."}})
    def start_session() -> Response:
        """Trade the token (sent in the Authorization header) for an HttpOnly, SameSite=Strict
        cookie, so that the page's media and thumbnail links need no token in their URLs."""
        response = Response(status_code=204)
        if api_token:
            response.set_cookie(SESSION_COOKIE, session_value(api_token), httponly=True,
                                samesite="strict", path="/")
        return response

    @api.post("/api/index", response_model=JobOut, status_code=202, tags=["indexing"],
              responses={409: _ERRORS[409]})
    def start_index() -> JobOut:
        """Re-index the index's folders in the background; poll the job for progress."""
        if not engine.roots():
            raise ApiError(409, "this index has no folders yet; run `searchengine index FOLDER` first")
        return job_out(jobs.start())  # type: ignore[return-value]

    @api.get("/api/jobs/{job_id}", response_model=JobOut, tags=["indexing"],
             responses={404: _ERRORS[404]})
    def get_job(job_id: str) -> JobOut:
        job = jobs.get(job_id)
        if job is None:
            raise ApiError(404, f"no job {job_id}")
        return job_out(job)  # type: ignore[return-value]

    for path, endpoint in (("/api/items/{item_id}/thumbnail", item_thumbnail), ("/api/items/{item_id}/media", item_media)):
        api.add_api_route(path, endpoint, methods=["HEAD"], include_in_schema=False)
    app.include_router(api)
    page_html = (STATIC / "index.html").read_text(encoding="utf-8")

    @app.get("/", include_in_schema=False)
    def index_page(request: Request) -> HTMLResponse:
        """The page, with its links under the prefix the app is mounted at (if any)."""
        root = request.scope.get("root_path", "").rstrip("/")
        return HTMLResponse(page_html.replace("{{ROOT}}", html.escape(root, quote=True)))

    app.router.routes.append(mcp_endpoint)
    add_offline_docs(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
