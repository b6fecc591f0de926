"""What a query asks of a sound unit: the query less the words that only say "a sound".

Every sound unit is a sound, so the frame of a sound query - "the sound of rain", "a
doorbell sound", "下雨的声音" - tells one sound unit from another no better than nothing; in
the text space it pulls the query towards the most generic events ("Beep, bleep; Sound
effect") ahead of the one that holds the thing heard. Sound units are therefore ranked by
the query without its frame (one more text for the text tower, only when a query has one);
every other kind by the query as written. A query that is nothing but the frame ("sounds",
"声音") stays as it is.
"""

from __future__ import annotations

import re

_ARTICLE = r"(?:(?:the|a|an|some)\s+)?"
_EN_LEAD = re.compile(rf"^{_ARTICLE}(?:sounds?|noises?)\s+of\s+{_ARTICLE}", re.IGNORECASE)
_EN_TAIL = re.compile(r"\s+sounds?$", re.IGNORECASE)
_ZH_TAIL = re.compile(r"的?(?:声音|声响)$")
_ONLY_ARTICLES = re.compile(r"^(?:(?:the|a|an|some)\b\s*)*$", re.IGNORECASE)
_END = re.compile(r"[\s.!?。！？,，]+$")


def without_frame(query: str) -> str | None:
    """``query`` less its sound frame, or None when it has none (or is nothing else)."""
    text = _END.sub("", query.strip())
    bare = _ZH_TAIL.sub("", _EN_TAIL.sub("", _EN_LEAD.sub("", text)))
    bare = _END.sub("", bare).strip()
    if bare == text or not _ONLY_ARTICLES.sub("", bare):
        return None
    return bare
