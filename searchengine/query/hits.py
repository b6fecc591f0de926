"""What a search returns."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

_LISTS = ("found_by", "highlights", "box")


def _plain(data: dict[str, Any]) -> dict[str, Any]:
    for key in _LISTS:
        if data.get(key) is not None:
            data[key] = [list(x) if isinstance(x, tuple) else x for x in data[key]]
    return data


@dataclass(frozen=True)
class Evidence:
    """Another unit of the same file that matched the query: a moment of a recording, a
    passage of a note, a page, a text box read in a photo. Same fields as :class:`Hit`."""

    id: int
    kind: str
    score: float
    similarity: float | None = None
    start: float | None = None
    end: float | None = None
    text: str | None = None
    moment: float | None = None
    box: tuple[float, float, float, float] | None = None
    found_by: tuple[str, ...] | None = None
    highlights: tuple[tuple[int, int], ...] | None = None
    page: int | None = None

    def to_dict(self) -> dict[str, Any]:
        data = _plain(asdict(self))
        return {k: v for k, v in data.items() if v is not None or k in ("id", "kind", "score")}


@dataclass(frozen=True)
class Hit:
    """One ranked result: an embedded unit of a file (with ``group="file"``, the default, the
    file's best unit, its other matching units in ``evidence``).

    ``score`` is the **relevance**, one scale for every kind of unit and every model: 0 to 1,
    calibrated per kind against the index's own score distribution (see
    :mod:`searchengine.query.calibration`); 0.5 is where a match becomes ``strong``. Lists are
    sorted by it. ``similarity`` is the raw cosine of the unit's vector with the query (None
    in keyword mode, which loads no model).

    ``start``/``end`` are character offsets for text chunks, seconds for audio windows and
    video key frames (a frame is seen from ``start``, until the next key frame at ``end``);
    ``text`` is the matched passage where there is one.
    ``moment`` (audio, text queries) is the second in the window where the query's words are
    spoken, when they are found there; a player should start at ``moment or start``.
    ``found_by`` (text queries): which side of the search found the hit, ``vector`` and/or
    ``keyword``; ``highlights``: character spans in ``text`` of the query's words and phrases.
    ``kind``: what the unit is - ``image`` (a whole photo), ``chunk`` (of a text file),
    ``window`` (of a transcript), ``ocr`` (text read in an image; ``box`` is where, as
    fractions x0, y0, x1, y1 of the picture), ``frame`` (a video's key frame at ``start``).
    ``evidence``: the file's other matching units, best first.
    ``page``: where in a document the passage is, 1-based - a PDF's page, a deck's slide, an
    e-book's chapter (None elsewhere); ``start``/``end`` are then offsets into that page's text.
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
    similarity: float | None = None
    strong: bool = False
    evidence: tuple[Evidence, ...] = ()
    page: int | None = None

    def to_dict(self) -> dict[str, Any]:
        data = _plain(asdict(self))
        data["evidence"] = [e.to_dict() for e in self.evidence]
        return {k: v for k, v in data.items()
                if v is not None or k in ("id", "path", "modality", "score", "kind")}
