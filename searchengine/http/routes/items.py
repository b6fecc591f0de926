"""One indexed item: its record, its thumbnail and its file (with ranges)."""

from __future__ import annotations

import io
import mimetypes
import os
from datetime import datetime, timezone
from enum import IntEnum
from pathlib import Path
from typing import Annotated, Optional, cast

from fastapi import APIRouter, Header, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse

from searchengine.errors import MediaDecodeError
from searchengine.http.errors import ERRORS, ApiError, check_range
from searchengine.http.item_view import REACH, passage_in_context, text_boxes
from searchengine.http.schemas import ContextOut, ErrorResponse, ItemOut, Modality, TextBoxOut
from searchengine.http.state import AppState, root_of
from searchengine.http.files import DescriptorResponse
from searchengine.http.thumbnails import ContentChangedError, thumbnail
from searchengine.media.regular import SizedFile, open_fd
from searchengine.media.pathnames import display_path

ItemId = Annotated[int, PathParam(ge=1, le=2**63 - 1, description="Id of an indexed item.")]


class ThumbnailSize(IntEnum):
    small = 128
    medium = 256
    large = 512


def router(state: AppState) -> APIRouter:
    api = APIRouter()
    engine = state.engine

    @api.get("/api/items/{item_id}", response_model=ItemOut, tags=["items"],
             responses={404: ERRORS[404]})
    def item(request: Request, item_id: ItemId) -> ItemOut:
        """An item's record; for a photo, every line of text read in it with its box; for a
        passage of a note or document, the passage in its surrounding text."""
        row = state.unit_or_404(item_id)
        root = root_of(request)
        boxes = context = None
        if row.modality == "image":
            boxes = [TextBoxOut(**b) for b in text_boxes(engine.repo.units_of_file(row.file_id, limit=2000))]
        elif row.kind == "chunk" and row.start is not None and row.end is not None:
            around = engine.repo.chunks_around(row.file_id, row.page, row.start - REACH, row.end + REACH)
            found = passage_in_context(row, around)
            context = ContextOut(**found) if found else None
        unit_box = text_boxes([row])
        return ItemOut(
            id=row.id, path=display_path(row.path), name=display_path(os.path.basename(row.path)),
            modality=cast(Modality, row.modality), kind=row.kind, page=row.page,
            box=tuple(unit_box[0]["box"]) if unit_box else None, text_in_image=boxes, context=context,
            start=row.start, end=row.end, text=row.text, size=row.size,
            modified=datetime.fromtimestamp(row.mtime_ns / 1e9, tz=timezone.utc),
            content_hash=row.content_hash, media_url=f"{root}/api/items/{row.id}/media",
            thumbnail_url=f"{root}/api/items/{row.id}/thumbnail" if row.modality == "image" else None,
            transcript=engine.transcript(row.id),
        )

    @api.get("/api/items/{item_id}/thumbnail", tags=["items"],
             response_class=FileResponse,
             responses={200: {"content": {"image/jpeg": {}}, "description": "A JPEG image."},
                        404: ERRORS[404], 415: ERRORS[415]})
    def item_thumbnail(item_id: ItemId, size: Annotated[ThumbnailSize, Query(description="Longer side in pixels.")] = ThumbnailSize.medium,
                       range_header: Annotated[Optional[str], Header(alias="range", include_in_schema=False)] = None):
        """A JPEG thumbnail of an image item, or of a PDF passage's page (made once, cached on disk)."""
        row = state.unit_or_404(item_id)
        pdf_page = row.page is not None and row.path.lower().endswith(".pdf")
        if row.modality != "image" and not pdf_page:
            raise ApiError(415, f"item {item_id} is {row.modality}; only images and PDF pages have thumbnails")
        fd, st = state.open_item(row)  # still the indexed file, inside the folders: else 404
        try:
            with io.BufferedReader(SizedFile(fd, st.st_size, row.path)) as source:
                thumb = thumbnail(source, row.content_hash, int(size), state.thumbs_dir,
                                  page=row.page if pdf_page else None, path=Path(row.path))
        except ContentChangedError:
            raise ApiError(404, f"item {item_id}'s file changed since it was indexed; re-index to update") from None
        except MediaDecodeError as exc:
            raise ApiError(415, str(exc)) from None
        try:
            fd, st = open_fd(thumb, nofollow=True)
        except OSError:  # removed by a concurrent clean-up: made again next time
            raise ApiError(404, f"item {item_id}'s thumbnail is being replaced; try again") from None
        try:
            if range_header is not None:  # refused in the API's shape, as for media
                check_range(range_header, st.st_size)
        except BaseException:
            os.close(fd)
            raise
        return DescriptorResponse(fd, st, media_type="image/jpeg", headers={"Cache-Control": "max-age=86400"})

    @api.get("/api/items/{item_id}/media", tags=["items"],
             response_class=FileResponse,
             responses={200: {"content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
                              "description": "The file, with its own media type."},
                        206: {"description": "The requested byte range(s)."},
                        400: ERRORS[400], 404: ERRORS[404],
                        416: {"model": ErrorResponse, "description": "Range not satisfiable."}})
    def item_media(item_id: ItemId, range_header: Annotated[Optional[str], Header(alias="range", include_in_schema=False)] = None):
        """The original file; supports HTTP range requests (seeking audio and video)."""
        row = state.unit_or_404(item_id)
        fd, st = state.open_item(row)
        try:
            if range_header is not None:
                check_range(range_header, st.st_size)
        except BaseException:
            os.close(fd)
            raise
        name = os.path.basename(row.path)
        media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return DescriptorResponse(fd, st, media_type=media_type, filename=display_path(name),
                                  content_disposition_type="inline")

    for path, endpoint in (("/api/items/{item_id}/thumbnail", item_thumbnail), ("/api/items/{item_id}/media", item_media)):
        api.add_api_route(path, endpoint, methods=["HEAD"], include_in_schema=False)
    return api
