"""Landing on the moment: within a matched audio window, the segment whose words best match
a text query (lexical overlap; cheap, and exact for a quoted phrase)."""

from __future__ import annotations

import re

from searchengine.transcribe.segments import Segment

_WORD = re.compile(r"[\w']+")
_STOP = frozenset("a an and are as at be by for from has have in is it its of on or that the this to was were with".split())


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP}


def best_moment(query: str, segments: list[Segment], start: float, end: float) -> float | None:
    """Start of the segment in [start, end] sharing most words with ``query``, or None."""
    wanted = _words(query)
    if not wanted:
        return None
    best, best_score = None, 0.0
    for seg in segments:
        if seg.end <= start or seg.start >= end:
            continue
        score = len(wanted & _words(seg.text)) / len(wanted)
        if score > best_score:
            best, best_score = seg.start, score
    return best
