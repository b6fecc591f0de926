"""Search by text, by an uploaded image, and "more like this"."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import PurePath
from typing import Annotated, Optional

from fastapi import APIRouter, File, Form, Query, Request, UploadFile

from searchengine.errors import MediaDecodeError
from searchengine.http.errors import ERRORS, ApiError
from searchengine.http.schemas import Modality, SearchGroup, SearchMode, SearchRequest, SearchResponse
from searchengine.http.state import UPLOAD_MAX_DECODE_BYTES, UPLOAD_MAX_PIXELS, AppState, filters_of, page_of
from searchengine.http.routes.items import ItemId
from searchengine.media.images import load_image
from searchengine.media.pathnames import display_path


def router(state: AppState) -> APIRouter:
    api = APIRouter()
    engine = state.engine

    @api.get("/api/search", response_model=SearchResponse, tags=["search"],
             responses={400: ERRORS[400]})
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
        group: SearchGroup = "file",
        place: Annotated[Optional[str], Query(max_length=200, description="Place words, e.g. Kyoto, 杭州, Japan.")] = None,
        camera: Annotated[Optional[str], Query(max_length=200, description="Camera make/model words.")] = None,
    ) -> SearchResponse:
        """Search by text."""
        return search_post(request, SearchRequest(q=q, k=k, offset=offset, modality=modality,
                                                  path=path, after=after, before=before, mode=mode, group=group,
                                                  place=place, camera=camera))

    @api.post("/api/search", response_model=SearchResponse, tags=["search"],
              responses={400: ERRORS[400]})
    def search_post(request: Request, body: SearchRequest) -> SearchResponse:
        """Search by text, with the query in a JSON body."""
        hits = engine.search(body.q, k=body.k, offset=body.offset, mode=body.mode, group=body.group,
                             filters=filters_of(body.modality, body.path, body.after, body.before,
                                                body.place, body.camera))
        return page_of(request, hits, body.k, body.offset, engine)

    @api.post("/api/search/image", response_model=SearchResponse, tags=["search"],
              responses={400: ERRORS[400], 413: ERRORS[413]})
    def search_image(
        request: Request,
        file: Annotated[UploadFile, File(description="The query image.")],
        k: Annotated[int, Form(ge=1, le=1000)] = 10,
        offset: Annotated[int, Form(ge=0, le=100000)] = 0,
        modality: Annotated[Optional[list[Modality]], Form()] = None,
        path: Annotated[Optional[str], Form(max_length=1000)] = None,
        after: Annotated[Optional[datetime], Form()] = None,
        before: Annotated[Optional[datetime], Form()] = None,
        group: Annotated[SearchGroup, Form()] = "file",
        place: Annotated[Optional[str], Form(max_length=200)] = None,
        camera: Annotated[Optional[str], Form(max_length=200)] = None,
    ) -> SearchResponse:
        """Search by an uploaded image (multipart field ``file``): every kind of item comes
        back (photos, notes, spoken passages, video moments); ``modality`` narrows."""
        limit = state.max_upload_bytes
        data = file.file.read(limit + 1)
        if len(data) > limit:
            raise ApiError(413, f"the upload is larger than the limit of {limit} bytes")
        if not data:
            raise ApiError(400, "the uploaded file is empty")
        upload = io.BytesIO(data)
        # the extension picks the decoder, as for an indexed file: a camera RAW goes to LibRaw
        upload.name = PurePath(file.filename or "upload").name
        try:
            query = load_image(upload, max_pixels=UPLOAD_MAX_PIXELS, pixel_gate=state.pixel_budget.reserve,
                               max_bytes=UPLOAD_MAX_DECODE_BYTES, byte_gate=state.byte_budget.reserve)
        except MediaDecodeError as exc:
            raise ApiError(400, f"the upload {display_path(file.filename or '')!r} cannot be used: {exc}") from None
        finally:
            del data, upload
        hits = engine.search(image=query, k=k, offset=offset, group=group,
                             filters=filters_of(modality, path, after, before, place, camera))
        return page_of(request, hits, k, offset, engine)

    @api.get("/api/items/{item_id}/similar", response_model=SearchResponse, tags=["search"],
             responses={404: ERRORS[404]})
    def similar(
        request: Request,
        item_id: ItemId,
        k: Annotated[int, Query(ge=1, le=1000)] = 10,
        offset: Annotated[int, Query(ge=0, le=100000)] = 0,
        modality: Annotated[Optional[list[Modality]], Query()] = None,
        path: Annotated[Optional[str], Query(max_length=1000)] = None,
        after: Optional[datetime] = None,
        before: Optional[datetime] = None,
        group: SearchGroup = "file",
        place: Annotated[Optional[str], Query(max_length=200, description="Place words, e.g. Kyoto, 杭州, Japan.")] = None,
        camera: Annotated[Optional[str], Query(max_length=200, description="Camera make/model words.")] = None,
    ) -> SearchResponse:
        """More like this: items of every kind near an indexed item."""
        state.unit_or_404(item_id)
        hits = engine.search(similar_to=item_id, k=k, offset=offset, group=group,
                             filters=filters_of(modality, path, after, before, place, camera))
        return page_of(request, hits, k, offset, engine)

    return api
