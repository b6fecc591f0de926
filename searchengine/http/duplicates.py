"""A :class:`~searchengine.duplicates.finder.DuplicatesReport` as the HTTP API's response."""

from __future__ import annotations

import os
from typing import cast

from searchengine.duplicates.finder import DuplicateFile, DuplicateGroup, DuplicatesReport
from searchengine.http.schemas import DuplicateFileOut, DuplicateGroupOut, DuplicatesKind, DuplicatesResponse, Modality
from searchengine.media.pathnames import display_path


def _file_out(f: DuplicateFile, root: str) -> DuplicateFileOut:
    linked = f.item_id is not None
    return DuplicateFileOut(
        id=f.item_id, path=display_path(f.path), name=display_path(os.path.basename(f.path)),
        modality=cast(Modality, f.modality), size=f.size, score=f.score, copies=f.copies,
        media_url=f"{root}/api/items/{f.item_id}/media" if linked else None,
        thumbnail_url=f"{root}/api/items/{f.item_id}/thumbnail" if linked and f.modality == "image" else None,
    )


def _group_out(g: DuplicateGroup, root: str) -> DuplicateGroupOut:
    return DuplicateGroupOut(kind=g.kind, files=[_file_out(f, root) for f in g.files], score=g.score,
                             content_hash=g.content_hash, redundant_bytes=g.redundant_bytes)


def duplicates_out(report: DuplicatesReport, root: str) -> DuplicatesResponse:
    """The response; links carry ``root``, the prefix the app is mounted under."""
    return DuplicatesResponse(
        threshold=report.threshold, kind=cast(DuplicatesKind, report.kind),
        exact=[_group_out(g, root) for g in report.exact], near=[_group_out(g, root) for g in report.near],
        exact_total=report.exact_total, near_total=report.near_total, photos=report.photos,
        index_type=report.index_type, seconds=report.seconds,
    )
