"""Path names: whether a path lies under a folder, and how to show any name the OS allows.

On Linux a file name is bytes. Python turns bytes that are not UTF-8 into lone surrogates
(``os.fsdecode``, "surrogateescape"), which SQLite, JSON and terminals cannot take as they
are. The store keeps such paths losslessly (see :class:`searchengine.store.models.FsPath`);
everything that *shows* a path uses :func:`display_path`.
"""

from __future__ import annotations

import os
import re
from typing import Iterable

# C0 controls, DEL, C1 controls, line/paragraph separators, bidi embeddings/overrides/isolates
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def is_under(path: str, root: str) -> bool:
    """``path`` is ``root`` or inside it, comparing normalised absolute names."""
    path, root = os.path.normpath(path), os.path.normpath(root)
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def is_real_under(real_path: str, real_roots: Iterable[str]) -> bool:
    """``real_path`` (already resolved) is inside one of ``real_roots`` (already resolved)."""
    return any(is_under(real_path, root) for root in real_roots)


def has_undecodable(path: str) -> bool:
    """The name holds bytes that are not UTF-8 (lone surrogates from ``os.fsdecode``)."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _escape(match: re.Match[str]) -> str:
    ch = match.group(0)
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8: show the byte
        return f"\\x{code - 0xDC00:02x}"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


def printable(text: str) -> str:
    """A one-line, printable, valid-UTF-8 form of any text for terminals, logs and JSON:
    the one function everything shown to a person goes through (paths, snippets,
    transcripts, OCR text, error messages), so that nothing from a file's name or content
    can move a cursor, retitle a window, write the clipboard or reorder a line.

    Undecodable bytes become ``\\xNN``, control characters (C0, DEL, C1: ESC, BEL, CSI, ...)
    ``\\n``, ``\\t``, ``\\xNN``, and line separators and bidirectional overrides
    ``\\uNNNN``; everything else is unchanged."""
    return _UNSAFE.sub(_escape, text)


def printable_lines(text: str) -> str:
    """:func:`printable` of each line, the line breaks kept (multi-line output we made)."""
    return "\n".join(printable(line) for line in text.split("\n"))


def display_path(path: str | os.PathLike[str]) -> str:
    """:func:`printable` of a path. It is for people: use the stored path (or the item id)
    to reach the file."""
    return printable(os.fspath(path))
