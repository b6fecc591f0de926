"""Rich Text Format (.rtf): the document's text, control words and destinations (font and
colour tables, pictures, metadata) dropped; ``\\uN`` and ``\\'hh`` characters decoded."""

from __future__ import annotations

import re
from pathlib import Path

from searchengine.media.formats.base import Budget, Format, Section
from searchengine.media.regular import read_bounded

_TOKEN = re.compile(rb"\\([a-zA-Z]{1,32})(-?\d{1,10})? ?|\\'([0-9a-fA-F]{2})|\\(.)|([{}])|[\r\n]+|([^\\{}\r\n]+)",
                    re.S)
_DESTINATIONS = frozenset({
    "fonttbl", "colortbl", "stylesheet", "info", "pict", "object", "header", "footer", "headerl", "headerr",
    "footerl", "footerr", "footnote", "field", "fldinst", "themedata", "colorschememapping", "latentstyles",
    "datastore", "xmlnstbl", "listtable", "listoverridetable", "rsidtbl", "generator", "filetbl", "revtbl",
    "pgdsctbl", "mmathPr", "bkmkstart", "bkmkend", "xe", "tc", "nonshppict", "shppict",
})
_BREAKS = {"par": "\n\n", "line": "\n", "tab": "\t", "sect": "\n\n", "page": "\n\n", "row": "\n", "cell": " ",
           "emdash": "\u2014", "endash": "\u2013", "bullet": "\u2022", "lquote": "\u2018", "rquote": "\u2019",
           "ldblquote": "\u201c", "rdblquote": "\u201d", "~": "\u00a0"}
MAX_DEPTH = 1000


def rtf_text(raw: bytes, budget: Budget) -> str:
    if not raw.lstrip().startswith(b"{\\rtf"):
        raise budget.refuse("not an RTF file (no {\\rtf header)")
    out: list[str] = []
    stack: list[tuple[bool, int]] = []
    skip, uc, pending_skip = False, 1, 0
    codepage = "cp1252"
    byte_run = bytearray()

    def flush() -> None:
        if byte_run:
            out.append(byte_run.decode(codepage, "replace"))
            byte_run.clear()

    for n, m in enumerate(_TOKEN.finditer(raw)):
        if n % 50_000 == 0:
            budget.check_time()
        word, arg, hexbyte, symbol, brace, plain = m.groups()
        if hexbyte is not None:
            if pending_skip:
                pending_skip -= 1
            elif not skip:
                byte_run.append(int(hexbyte, 16))
            continue
        flush()
        if brace == b"{":
            if len(stack) >= MAX_DEPTH:
                raise budget.refuse(f"groups nested over {MAX_DEPTH} deep; refused")
            stack.append((skip, uc))
        elif brace == b"}":
            skip, uc = stack.pop() if stack else (skip, uc)
        elif word is not None:
            w = word.decode("ascii")
            if w in _DESTINATIONS:
                skip = True
            elif w == "uc" and arg is not None:
                uc = int(arg)
            elif w == "ansicpg" and arg is not None:
                codepage = f"cp{int(arg)}"
                try:
                    b"".decode(codepage)
                except LookupError:
                    codepage = "cp1252"
            elif w == "u" and arg is not None:
                if not skip:
                    out.append(chr(int(arg) % 65536))
                pending_skip = uc
            elif not skip and w in _BREAKS:
                out.append(_BREAKS[w])
        elif symbol is not None:
            if symbol == b"*":
                skip = True
            elif not skip and symbol in (b"\\", b"{", b"}"):
                out.append(symbol.decode())
            elif not skip and symbol == b"~":
                out.append("\u00a0")
        elif plain is not None and not skip:
            text = plain.decode(codepage, "replace")
            if pending_skip:
                cut = min(pending_skip, len(text))
                text, pending_skip = text[cut:], pending_skip - cut
            out.append(text)
    flush()
    text = re.sub(r"[^\S\n]+", " ", "".join(out))
    return re.sub(r"\n{3,}", "\n\n", re.sub(r" *\n *", "\n", text)).strip()


def read(path: Path, budget: Budget) -> list[Section]:
    text = rtf_text(read_bounded(path, min(budget.limits.max_bytes, 64 * 1024 * 1024)), budget)
    budget.add_chars(len(text))
    return [Section(text)]


FORMAT = Format("rtf", "text", (".rtf",), read=read, sniff=lambda head: head.lstrip().startswith(b"{\\rtf"),
                mime="application/rtf", description="Rich Text Format document")
