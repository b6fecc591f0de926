"""Where in a matched recording window the query's words are spoken (``Hit.moment``)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, TypeVar

from searchengine.query.hits import Evidence, Hit

if TYPE_CHECKING:
    from searchengine.store.repository import Repository

H = TypeVar("H", Hit, Evidence)


def _timed_windows(units: list[Hit | Evidence]) -> list[int]:
    return [u.id for u in units if u.kind == "window" and u.start is not None and u.end is not None]


def with_moments(repo: Repository, hits: list[Hit], text: str) -> list[Hit]:
    """Transcript windows of a text query - leads and evidence - with the second the query's
    words are spoken (when they are found there)."""
    wanted = [i for h in hits for i in _timed_windows([h, *h.evidence])]
    if not wanted:
        return hits
    from searchengine.transcribe.moment import best_moment  # recordings only: not on every query's path

    segments = repo.segments_of_units(wanted)

    def timed(unit: H) -> H:
        if unit.id in segments and unit.start is not None and unit.end is not None:
            return replace(unit, moment=best_moment(text, segments[unit.id], unit.start, unit.end))
        return unit

    return [replace(timed(h), evidence=tuple(timed(e) for e in h.evidence)) for h in hits]
