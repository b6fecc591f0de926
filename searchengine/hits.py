"""What a search returns."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Hit:
    """One ranked result: an embedded unit of a file.

    ``start``/``end`` are character offsets for text chunks, seconds for audio windows and
    video key frames (a frame is seen from ``start``, until the next key frame at ``end``);
    ``text`` is the matched passage where there is one. ``score`` is the cosine similarity.
    ``moment`` (audio, text queries) is the second in the window where the query's words are
    spoken, when they are found there; a player should start at ``moment or start``.
    ``found_by`` (text queries): which side of the search found the hit, ``vector`` and/or
    ``keyword``; ``highlights``: character spans in ``text`` of the query's words and phrases.
    In keyword mode ``score`` is the BM25 relevance, not a cosine.
    ``kind``: what the unit is - ``image`` (a whole photo), ``chunk`` (of a text file),
    ``window`` (of a transcript), ``ocr`` (text read in an image; ``box`` is where, as
    fractions x0, y0, x1, y1 of the picture), ``frame`` (a video's key frame at ``start``).
    """

    id: int
    path: str
    modality: str
    score: float
    start: float | None = None
    end: float | None = None
    text: str | None = None
    moment: float | None = None
    found_by: tuple[str, ...] | None = None
    highlights: tuple[tuple[int, int], ...] | None = None
    kind: str = "image"
    box: tuple[float, float, float, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("found_by", "highlights", "box"):
            if data[key] is not None:
                data[key] = [list(x) if isinstance(x, tuple) else x for x in data[key]]
        return {k: v for k, v in data.items() if v is not None or k in ("id", "path", "modality", "score", "kind")}
