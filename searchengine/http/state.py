"""What every route of one app shares: the engine, the server's settings, the indexing jobs,
and the helpers that turn rows and hits into responses."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional, Sequence, cast

from fastapi import Request

from searchengine.engine import SearchEngine
from searchengine.http.errors import ApiError
from searchengine.http.jobs import IndexJobs
from searchengine.http.schemas import EvidenceOut, HitOut, Modality, SearchResponse
from searchengine.media.images import PixelBudget
from searchengine.media.kinds import RECORDINGS, format_of
from searchengine.media.pathnames import display_path, is_real_under
from searchengine.media.regular import FileSwappedError, Pin, open_fd, pinned
from searchengine.query.filters import SearchFilters
from searchengine.query.hits import Hit
from searchengine.store.repository import UnitRow

DEFAULT_MAX_UPLOAD = 20 * 1024 * 1024
UPLOAD_MAX_PIXELS = 64_000_000  # bounds the memory one query image can take while decoding
# pixels of uploads decoded at once, all requests together (a 64 Mpx RGBA image is 256 MB):
# concurrent decompression bombs queue instead of adding up
UPLOAD_PIXEL_BUDGET = 64_000_000
# and in bytes (images.decode_bytes: by format): one upload's decode at most this ...
UPLOAD_MAX_DECODE_BYTES = 512 * 2**20
# ... and all uploads' decodes together at most this (the others wait)
UPLOAD_BYTE_BUDGET = 512 * 2**20


def root_of(request: Request) -> str:
    """The prefix the app is mounted under ('' at the top)."""
    return cast(str, request.scope.get("root_path", "")).rstrip("/")


@dataclass
class AppState:
    engine: SearchEngine
    api_token: str | None = None
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD
    serve_outside_roots: bool = False
    jobs: IndexJobs = field(init=False)
    thumbs_dir: Path = field(init=False)
    pixel_budget: PixelBudget = field(init=False)
    byte_budget: PixelBudget = field(init=False)  # the same queue, counted in bytes

    def __post_init__(self) -> None:
        self.jobs = IndexJobs(self.engine)
        self.thumbs_dir = self.engine.layout.folder / "thumbnails"
        self.pixel_budget = PixelBudget(UPLOAD_PIXEL_BUDGET)
        self.byte_budget = PixelBudget(UPLOAD_BYTE_BUDGET)

    def unit_or_404(self, item_id: int) -> UnitRow:
        row = self.engine.item(item_id)
        if row is None:
            raise ApiError(404, f"no indexed item has id {item_id}")
        return row

    def open_item(self, row: UnitRow) -> tuple[int, os.stat_result]:
        """An open descriptor on an item's file and its ``fstat``, if that file is still
        the one that was indexed and lies inside the index's folders; the caller closes it.

        Opened once, by its real path (its stored path was written by the indexer's walk,
        never taken from a request), with no symlink followed as the last component; then
        checked on the descriptor: a regular file, the stored device and inode (where
        stored), size and modification time, and its real path, read back from the
        descriptor, under the real path of one of the index's folders
        (``serve_outside_roots`` lifts that last check). Everything served or thumbnailed
        is read from this descriptor, so a name swapped afterwards changes nothing."""
        try:  # realpath raises (EINVAL) when a link is swapped for a file while it is read
            real = os.path.realpath(row.path)
            roots = None if self.serve_outside_roots else frozenset(os.path.realpath(r) for r in self.engine.roots())
        except OSError:
            raise ApiError(404, f"item {row.id}'s file is changing (replaced while being opened); "
                                "try again or re-index") from None
        if roots is not None and not is_real_under(real, roots):
            raise ApiError(404, f"item {row.id}'s file is not inside the index's folders "
                                "(a symlink out of them?); it is not served")
        pin = Pin(row.device, row.inode, roots) if row.device is not None else Pin(real_roots=roots)
        try:
            with pinned({real: pin}):
                fd, st = open_fd(real, nofollow=True)
        except FileSwappedError:
            raise ApiError(404, f"item {row.id}'s file changed since it was indexed; re-index to update") from None
        except OSError:
            raise ApiError(404, f"item {row.id}'s file is no longer on disk (or is not a regular file); "
                                "re-index to update") from None
        same_time = st.st_mtime_ns == row.mtime_ns or (row.modality in RECORDINGS and st.st_mtime_ns <= row.mtime_ns)
        if st.st_size != row.size or not same_time:
            os.close(fd)
            raise ApiError(404, f"item {row.id}'s file changed since it was indexed; re-index to update")
        return fd, st


def hit_out(hit: Hit, root: str, row: UnitRow | None = None) -> HitOut:
    """A hit as the API gives it; ``row`` (its item's row) adds the date, place and camera."""
    fmt = format_of(hit.path) if hit.page is not None else None
    location = fmt.location if fmt is not None else None
    pdf_page = hit.page is not None and location == "page"
    return HitOut(
        id=hit.id, path=display_path(hit.path), name=display_path(os.path.basename(hit.path)),
        modality=cast(Modality, hit.modality),
        score=hit.score, start=hit.start, end=hit.end, text=hit.text, moment=hit.moment,
        found_by=list(hit.found_by) if hit.found_by else None,  # type: ignore[arg-type]
        highlights=[tuple(s) for s in hit.highlights] if hit.highlights else None,  # type: ignore[misc]
        kind=hit.kind, box=hit.box,  # type: ignore[arg-type]
        similarity=hit.similarity, strong=hit.strong,
        page=hit.page, location=location,  # type: ignore[arg-type]
        **dated(row),
        media_url=f"{root}/api/items/{hit.id}/media" + (f"#page={hit.page}" if pdf_page else ""),
        thumbnail_url=f"{root}/api/items/{hit.id}/thumbnail" if hit.modality == "image" or pdf_page else None,
        evidence=[EvidenceOut(**e.to_dict()) for e in hit.evidence],
    )


def dated(row: UnitRow | None) -> dict[str, Any]:
    """An item's date (taken, else modified) with its source, place and camera."""
    if row is None:
        return {}
    taken = row.taken_ns is not None
    ns = row.taken_ns if row.taken_ns is not None else row.mtime_ns
    return dict(date=datetime.fromtimestamp(ns / 1e9, timezone.utc), date_source="taken" if taken else "modified",
                place=row.place, camera=row.camera)


def page_of(request: Request, hits: list[Hit], k: int, offset: int, engine: SearchEngine) -> SearchResponse:
    """A page of hits; links carry the prefix the app is mounted under, if any."""
    root = root_of(request)
    rows = engine.items([h.id for h in hits])
    return SearchResponse(hits=[hit_out(h, root, rows.get(h.id)) for h in hits], k=k, offset=offset,
                          next_offset=offset + k if len(hits) == k else None)


def filters_of(modality: Optional[Sequence[str]], path: Optional[str], after: Optional[datetime],
               before: Optional[datetime], place: Optional[str] = None,
               camera: Optional[str] = None) -> SearchFilters:
    return SearchFilters.of(modality, path, after, before, place, camera)
