"""Exact copies and near-duplicate photos."""

from __future__ import annotations

from typing import Annotated, Optional

from fastapi import APIRouter, Query, Request

from searchengine.duplicates.finder import DEFAULT_THRESHOLD, MIN_THRESHOLD
from searchengine.http.duplicates import duplicates_out
from searchengine.http.errors import ERRORS
from searchengine.http.schemas import DuplicatesKind, DuplicatesResponse
from searchengine.http.state import AppState, filters_of, root_of


def router(state: AppState) -> APIRouter:
    api = APIRouter()

    @api.get("/api/duplicates", response_model=DuplicatesResponse, tags=["search"],
             responses={400: ERRORS[400]})
    def duplicates(
        request: Request,
        threshold: Annotated[float, Query(ge=MIN_THRESHOLD, le=1.0, description="Near-duplicate photos: "
                                          "cosine similarity at least this.")] = DEFAULT_THRESHOLD,
        kind: DuplicatesKind = "all",
        limit: Annotated[int, Query(ge=1, le=1000, description="At most this many groups of each kind.")] = 100,
        path: Annotated[Optional[str], Query(max_length=1000, description="Glob, e.g. /photos/2023/*")] = None,
    ) -> DuplicatesResponse:
        """Exact copies (same content) and near-duplicate photos (with their similarity), in groups."""
        report = state.engine.duplicates(threshold, kind=kind, limit=limit, filters=filters_of(None, path, None, None))
        return duplicates_out(report, root_of(request))

    return api
