"""Timed transcript segments, and grouping them into windows that are embedded and searched."""

from __future__ import annotations

import re
from dataclasses import dataclass

from searchengine.media.text import CJK, CLOSERS, FULL_STOPS


@dataclass(frozen=True)
class Segment:
    start: float  # seconds
    end: float
    text: str


# A pause this long after a segment that ends in a CJK character closes a sentence: Whisper
# often writes Chinese without any punctuation.
PAUSE_SECONDS = 0.3

_STOP = re.compile(rf"(?:[.!?…{re.escape(FULL_STOPS)}])[{re.escape(CLOSERS)}]*$")
_CJK_END = re.compile(rf"[{CJK}]$")
_CJK_START = re.compile(rf"^[{CJK}\u3000-\u303f\uff00-\uffef]")
_CJK_MARK_END = re.compile(r"[\u3000-\u303f\uff00-\uffef]$")  # 。，」 and fullwidth forms


def _ends_sentence(text: str, pause: float = 0.0) -> bool:
    """A segment that ends a sentence: with ``. ! ? …`` or ``。！？；`` (and a closing quote or
    bracket), or with a CJK character followed by a pause of ``PAUSE_SECONDS`` or more."""
    text = text.rstrip()
    return bool(_STOP.search(text)) or (pause >= PAUSE_SECONDS and bool(_CJK_END.search(text)))


def group_windows(
    segments: list[Segment], min_seconds: float = 15.0, max_seconds: float = 30.0,
    overlap_seconds: float = 5.0,
) -> list[Segment]:
    """Windows of roughly ``min_seconds``..``max_seconds`` that close at sentence ends;
    each next window starts with the previous window's last segments up to
    ``overlap_seconds`` long, so a passage cut by a boundary is whole in one of them."""
    segments = [s for s in segments if s.text.strip()]
    windows: list[Segment] = []
    current: list[Segment] = []
    fresh = 0  # segments in `current` not carried over from the previous window

    def close() -> None:
        nonlocal current, fresh
        windows.append(_join(current))
        carried: list[Segment] = []
        for prev in reversed(current[1:]):
            if current[-1].end - prev.start > overlap_seconds:
                break
            carried.insert(0, prev)
        current, fresh = carried, 0

    for i, seg in enumerate(segments):
        pause = segments[i + 1].start - seg.end if i + 1 < len(segments) else 0.0
        if fresh and seg.end - current[0].start > max_seconds:
            close()
        while current and seg.end - current[0].start > max_seconds:
            current.pop(0)  # the carried overlap must not push a window past the maximum
        current.append(seg)
        fresh += 1
        if current[-1].end - current[0].start >= min_seconds and _ends_sentence(seg.text, pause):
            close()
    if fresh:
        windows.append(_join(current))
    return windows


def _join(segments: list[Segment]) -> Segment:
    """One segment of ``segments``: joined with spaces, but with none between Chinese or
    Japanese text after its own punctuation (``。`` then ``茶``)."""
    text = ""
    for s in segments:
        piece = s.text.strip()
        if text and not (_CJK_MARK_END.search(text) and _CJK_START.search(piece)):
            text += " "
        text += piece
    return Segment(segments[0].start, segments[-1].end, text)
