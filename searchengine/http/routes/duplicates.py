"""Exact copies and near-duplicate photos.

Bounded for a server: the threshold has a higher floor than the library's
(:data:`HTTP_MIN_THRESHOLD`), one report is computed at a time (concurrent requests wait, so
their memory does not add up), and reports are cached per index generation (the same
request again, until the index changes, costs nothing)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Annotated, Optional

from fastapi import APIRouter, Query, Request

from searchengine.duplicates.finder import DEFAULT_THRESHOLD, DuplicatesReport
from searchengine.http.duplicates import duplicates_out
from searchengine.http.errors import ERRORS
from searchengine.http.schemas import DuplicatesKind, DuplicatesResponse
from searchengine.http.state import AppState, filters_of, root_of

HTTP_MIN_THRESHOLD = 0.8  # below it most photos of one subject are "alike": pairs grow as N²
CACHED_REPORTS = 16


class ReportCache:
    """Reports by (index generation, request); one computed at a time."""

    def __init__(self, size: int = CACHED_REPORTS):
        self.size = size
        self._reports: OrderedDict[tuple, DuplicatesReport] = OrderedDict()
        self._compute = threading.Lock()

    def get(self, state: AppState, threshold: float, kind: str, limit: int, path: Optional[str]) -> DuplicatesReport:
        key = (state.engine.repo.generation(), threshold, kind, limit, path)
        with self._compute:
            report = self._reports.get(key)
            if report is None:
                report = state.engine.duplicates(threshold, kind=kind, limit=limit,
                                                 filters=filters_of(None, path, None, None))
                self._reports[key] = report
                while len(self._reports) > self.size:
                    self._reports.popitem(last=False)
            else:
                self._reports.move_to_end(key)
            return report


def router(state: AppState) -> APIRouter:
    api = APIRouter()
    cache = ReportCache()

    @api.get("/api/duplicates", response_model=DuplicatesResponse, tags=["search"],
             responses={400: ERRORS[400]})
    def duplicates(
        request: Request,
        threshold: Annotated[float, Query(ge=HTTP_MIN_THRESHOLD, le=1.0, description="Near-duplicate photos: "
                                          "cosine similarity at least this.")] = DEFAULT_THRESHOLD,
        kind: DuplicatesKind = "all",
        limit: Annotated[int, Query(ge=1, le=1000, description="At most this many groups of each kind.")] = 100,
        path: Annotated[Optional[str], Query(max_length=1000, description="Glob, e.g. /photos/2023/*")] = None,
    ) -> DuplicatesResponse:
        """Exact copies (same content) and near-duplicate photos (with their similarity), in groups."""
        return duplicates_out(cache.get(state, threshold, kind, limit, path), root_of(request))

    return api
