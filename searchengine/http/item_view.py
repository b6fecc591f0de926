"""What the page's viewer shows of an item beyond its record: the text boxes read in a
photo, and a passage of a note or document in its surrounding text (rebuilt from the
indexed chunks, which are exact slices of the file's text: no file is read again)."""

from __future__ import annotations

import json
from typing import Any

from searchengine.store.repository import UnitRow

REACH = 1200  # characters of surrounding text on each side of a passage
GAP = "\n"  # what stood between two chunks that do not touch: whitespace the chunker dropped


def text_boxes(units: list[UnitRow]) -> list[dict[str, Any]]:
    """Each line of text read in a picture with its box (x0, y0, x1, y1, fractions)."""
    out = []
    for u in units:
        if u.kind != "ocr" or not u.box:
            continue
        try:
            box = [min(1.0, max(0.0, float(v))) for v in json.loads(u.box)]
        except (ValueError, TypeError):
            continue
        if len(box) == 4:
            out.append({"id": u.id, "text": u.text or "", "box": box})
    return out


def passage_in_context(row: UnitRow, chunks: list[UnitRow], reach: int = REACH) -> dict[str, Any] | None:
    """``{"text", "start", "end"}``: the text around the passage ``row`` (a chunk), stitched
    from its overlapping neighbours ``chunks`` (sorted by start), at most ``reach`` characters
    on each side; ``start``/``end`` are the passage's offsets in that text. None when the
    passage has no offsets."""
    if row.start is None or row.end is None or row.text is None:
        return None
    text, spans, pos = "", [], None  # spans: (offset in the file's text, offset in ours, length)
    for c in chunks:
        if c.start is None or c.end is None or c.text is None:
            continue
        cs, ce = int(c.start), int(c.end)
        if pos is not None and ce <= pos:
            continue  # inside what is already there
        if pos is not None and cs > pos:
            text += GAP
            pos = cs
        skip = 0 if pos is None else pos - cs
        spans.append((cs + skip, len(text), len(c.text) - skip))
        text += c.text[skip:]
        pos = ce

    def at(offset: int) -> int | None:
        for src, ours, length in spans:
            if src <= offset <= src + length:
                return ours + offset - src
        return None

    start, end = at(int(row.start)), at(int(row.end))
    if start is None or end is None or text[start:end] != row.text:
        text, start, end = row.text, 0, len(row.text)  # neighbours missing or out of step: the passage alone
    lo, hi = max(0, start - reach), min(len(text), end + reach)
    if lo > 0:  # begin and end on a word boundary where there is one near
        space = text.find(" ", lo, start)
        lo = space + 1 if 0 <= space < lo + 40 else lo
    if hi < len(text):
        space = text.rfind(" ", end, hi)
        hi = space if space > hi - 40 else hi
    return {"text": text[lo:hi], "start": start - lo, "end": end - lo,
            "cut_before": lo > 0 or bool(chunks and chunks[0].start and chunks[0].start > 0),
            "cut_after": hi < len(text)}
