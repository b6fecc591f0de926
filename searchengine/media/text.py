"""Reading text files and splitting them into overlapping chunks with character spans."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from searchengine.errors import MediaDecodeError
from searchengine.media.regular import read_bounded
from searchengine.media.pathnames import display_path

# 16 MiB of text is some 3 million words, 10,000 chunks; anything bigger is a log or a dump,
# not a note, and is refused with this reason rather than read whole into memory.
MAX_TEXT_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class TextChunk:
    start: int  # character offsets into the decoded file, end exclusive
    end: int
    text: str


# bytes no text holds (C0 controls but tab, line feed, vertical tab, form feed, carriage return
# and escape, plus DEL): random or compressed data has ~10% of them, text next to none
_BINARY_BYTES = bytes([*range(0x00, 0x09), *range(0x0E, 0x1B), *range(0x1C, 0x20), 0x7F])
BINARY_SHARE = 0.02
SNIFF_BYTES = 64 * 1024


def binary_reason(raw: bytes) -> str | None:
    """Why ``raw`` (the start of a file named as text) is not text, or None: NUL bytes, or
    more than :data:`BINARY_SHARE` of bytes that no text holds."""
    head = raw[:SNIFF_BYTES]
    if b"\x00" in head:
        return "NUL bytes"
    if head:
        odd = len(head) - len(head.translate(None, _BINARY_BYTES))
        if odd > max(2, BINARY_SHARE * len(head)):
            return f"{odd} control bytes in its first {len(head):,}"
        if odd and not _is_utf8(head):  # legacy-encoded text holds no control bytes either
            return f"{odd} control bytes and no UTF-8"
    return None


def _is_utf8(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(head) - 3  # only a character cut at the end of the sniffed part
    return True


def read_text(path: Path, max_bytes: int = MAX_TEXT_BYTES) -> str:
    """The text of a regular file of at most ``max_bytes`` bytes (UTF-8, else cp1252, else
    Latin-1), or :class:`MediaDecodeError` naming the file and why."""
    try:
        raw = read_bounded(path, max_bytes)
    except MediaDecodeError:
        raise
    except OSError as exc:
        raise MediaDecodeError(f"{display_path(path)}: cannot read: {exc.strerror or exc}") from exc
    why = binary_reason(raw)
    if why:
        raise MediaDecodeError(f"{display_path(path)}: binary content ({why}), not text; not indexed")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")


def chunk_text(text: str, size: int, overlap: int) -> list[TextChunk]:
    """Split into chunks of at most ``size`` characters, ``overlap`` shared between
    neighbours. Blank text gives no chunks.

    Text needs no spaces (Chinese, Japanese). Each chunk ends, in order of preference, at a
    paragraph break, just after a sentence end (``。！？；…``, their halfwidth forms after
    CJK text, or ``. ! ?`` before a space, with any closing quote or bracket), at a line
    end, after a clause mark (``，、：``, or ``,`` before a space), at a space or between two
    CJK characters - the last such place in the second half of the window - else it is cut
    at ``size``. The next chunk starts inside the overlap at the first sentence start, else
    clause start, else word start (any character boundary in CJK text), so it never begins
    in the middle of an English word."""
    chunks: list[TextChunk] = []
    n = len(text)
    start = _skip_space(text, 0)
    while start < n:
        end = min(start + size, n)
        if end < n:
            end = _cut(text, start, end, start + size // 2)
        piece = text[start:end].strip()
        if piece:
            lead = len(text[start:end]) - len(text[start:end].lstrip())
            chunks.append(TextChunk(start + lead, start + lead + len(piece), piece))
        if end >= n:
            break
        start = _next_start(text, start, end, max(end - overlap, start + 1))
    return chunks


# Letters of scripts written without spaces between words: kana, bopomofo, CJK ideographs
# (BMP, compatibility, and the supplementary planes), halfwidth katakana. Hangul is written
# with spaces and is left out.
CJK = (
    "\u3040-\u30ff\u3100-\u312f\u31a0-\u31bf\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003134f"
)
# Sentence ends that need nothing after them (ideographic and fullwidth forms) ...
FULL_STOPS = "。｡．！？；︒"
# ... and those that do: a space, or CJK text before them ("好!" typed with a halfwidth key).
HALF_STOPS = ".!?;…‼⁇⁈⁉"
CLOSERS = "」』”’）)］]】》〉〕｝}〗〙〛\"'»›"
_OPENERS = "「『“‘（(［[【《〈〔｛{〖〘〚«‹"
_CLAUSE_MARKS = "，、：﹐﹑､︰"
_NO_START = CLOSERS + FULL_STOPS + HALF_STOPS + _CLAUSE_MARKS + ",:ー々ゝゞヽヾ"


def _set(chars: str) -> str:
    return re.escape(chars)


_SENTENCE_END = re.compile(
    rf"[{_set(FULL_STOPS)}]+[{_set(CLOSERS)}]*"
    rf"|(?<=[{CJK}])[{_set(HALF_STOPS)}]+[{_set(CLOSERS)}]*"
    rf"|[{_set(HALF_STOPS)}]+[{_set(CLOSERS)}]*(?=\s)"
)
_CLAUSE_END = re.compile(
    rf"[{_set(_CLAUSE_MARKS)}]+[{_set(CLOSERS)}]*|(?<=[{CJK}])[,:]+|[,:]+[{_set(CLOSERS)}]*(?=\s)"
)
_PARAGRAPH = re.compile(r"\n[^\S\n]*\n")
_LINE = re.compile(r"\n")
# A space, or a boundary next to a CJK letter that neither puts a closing mark at the start
# of the next chunk nor leaves an opening bracket at the end of this one.
_GAP = re.compile(
    rf"\s|(?<=[{CJK}])(?=[^\s{_set(_NO_START)}])|(?<=[^\s{_set(_OPENERS)}])(?=[{CJK}])"
)


def _cut(text: str, start: int, end: int, lo: int) -> int:
    """Where the chunk ``text[start:end]`` should end: the best place in ``[lo, end]``."""
    stop = min(len(text), end + 2)  # lookaheads may peek at text[end]
    for pattern, at_end in ((_PARAGRAPH, False), (_SENTENCE_END, True), (_LINE, False),
                            (_CLAUSE_END, True), (_GAP, False)):
        best = -1
        for m in pattern.finditer(text, lo, stop):
            p = m.end() if at_end else m.start()
            if p > end:
                break
            if p > start:
                best = p
        if best != -1:
            return best
    return end


def _next_start(text: str, start: int, end: int, lo: int) -> int:
    """Where the chunk after ``text[start:end]`` begins: the first sentence start in the
    overlap ``[lo, end)``, else clause start, else word start, else ``lo``."""
    stop = min(len(text), end + 1)
    for patterns in ((_PARAGRAPH, _SENTENCE_END), (_CLAUSE_END,), (_GAP,)):
        best = -1
        for pattern in patterns:
            for m in pattern.finditer(text, lo, stop):
                p = _skip_space(text, m.end())
                if p >= end:
                    break
                if p > start:
                    best = p if best == -1 else min(best, p)
                    break
        if best != -1:
            return best
    return _skip_space(text, lo)


def _skip_space(text: str, i: int) -> int:
    while i < len(text) and text[i].isspace():
        i += 1
    return i
