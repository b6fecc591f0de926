"""Notes: plain text and Markdown, read whole (UTF-8, else cp1252, else Latin-1)."""

from __future__ import annotations

from pathlib import Path

from searchengine.media.formats.base import Budget, Format, Section


def read(path: Path, budget: Budget) -> list[Section]:
    from searchengine.media.text import read_text

    text = read_text(path)
    return [Section(text)]


FORMAT = Format("text", "text", (".txt", ".md"), read=read, mime="text/plain", description="note")
