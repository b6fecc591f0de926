"""Reading text files and splitting them into overlapping chunks with character spans."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from searchengine.errors import MediaDecodeError
from searchengine.media.regular import read_bounded
from searchengine.pathnames import display_path

# 16 MiB of text is some 3 million words, 10,000 chunks; anything bigger is a log or a dump,
# not a note, and is refused with this reason rather than read whole into memory.
MAX_TEXT_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class TextChunk:
    start: int  # character offsets into the decoded file, end exclusive
    end: int
    text: str


def read_text(path: Path, max_bytes: int = MAX_TEXT_BYTES) -> str:
    """The text of a regular file of at most ``max_bytes`` bytes (UTF-8, else cp1252, else
    Latin-1), or :class:`MediaDecodeError` naming the file and why."""
    try:
        raw = read_bounded(path, max_bytes)
    except MediaDecodeError:
        raise
    except OSError as exc:
        raise MediaDecodeError(f"{display_path(path)}: cannot read: {exc.strerror or exc}") from exc
    if b"\x00" in raw[:8192]:
        raise MediaDecodeError(f"{display_path(path)}: looks binary (NUL bytes), not a text file")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")


def chunk_text(text: str, size: int, overlap: int) -> list[TextChunk]:
    """Split into chunks of at most ``size`` characters, ``overlap`` shared between
    neighbours, cut at whitespace where possible. Blank text gives no chunks."""
    chunks: list[TextChunk] = []
    n = len(text)
    start = _skip_space(text, 0)
    while start < n:
        end = min(start + size, n)
        if end < n:
            cut = text.rfind(" ", start + size // 2, end)
            cut = max(cut, text.rfind("\n", start + size // 2, end))
            if cut > start:
                end = cut
        piece = text[start:end].strip()
        if piece:
            lead = len(text[start:end]) - len(text[start:end].lstrip())
            chunks.append(TextChunk(start + lead, start + lead + len(piece), piece))
        if end >= n:
            break
        nxt = max(end - overlap, start + 1)
        # start the next chunk at a word boundary inside the overlap
        space = text.find(" ", nxt, end)
        start = _skip_space(text, space + 1 if space != -1 else nxt)
    return chunks


def _skip_space(text: str, i: int) -> int:
    while i < len(text) and text[i].isspace():
        i += 1
    return i
