"""Timed transcript segments, and grouping them into windows that are embedded and searched."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Segment:
    start: float  # seconds
    end: float
    text: str


def _ends_sentence(text: str) -> bool:
    return text.rstrip().endswith((".", "!", "?", "…", '."', '?"', '!"'))


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

    for seg in segments:
        if fresh and seg.end - current[0].start > max_seconds:
            close()
        while current and seg.end - current[0].start > max_seconds:
            current.pop(0)  # the carried overlap must not push a window past the maximum
        current.append(seg)
        fresh += 1
        if current[-1].end - current[0].start >= min_seconds and _ends_sentence(seg.text):
            close()
    if fresh:
        windows.append(_join(current))
    return windows


def _join(segments: list[Segment]) -> Segment:
    text = " ".join(s.text.strip() for s in segments)
    return Segment(segments[0].start, segments[-1].end, text)
