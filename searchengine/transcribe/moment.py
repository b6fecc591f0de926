"""Landing on the moment: within a matched audio window, the segment whose words best match
a text query (lexical overlap; cheap, and exact for a quoted phrase). Chinese and Japanese,
written without spaces, are compared by their characters and pairs of neighbouring
characters."""

from __future__ import annotations

import re

from searchengine.media.text import CJK
from searchengine.transcribe.segments import Segment

_WORD = re.compile(rf"[{CJK}]+|(?:(?![{CJK}])[\w'])+")
_CJK_RUN = re.compile(rf"[{CJK}]")
_STOP = frozenset("a an and are as at be by for from has have in is it its of on or that the this to was were with".split())
# single characters too common to say anything (particles, "is", "and"); pairs keep them
_CJK_STOP = frozenset("的了是在和与及也就都而着之这那个我你他她它们吗呢吧啊")


def _words(text: str) -> set[str]:
    words: set[str] = set()
    for w in _WORD.findall(text.lower()):
        if _CJK_RUN.match(w):
            words.update(c for c in w if c not in _CJK_STOP)
            words.update(w[i : i + 2] for i in range(len(w) - 1))
        elif w not in _STOP:
            words.add(w)
    return words


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
