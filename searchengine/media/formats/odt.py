"""OpenDocument text (.odt): headings and paragraphs of content.xml, in order."""

from __future__ import annotations

from pathlib import Path
from xml.etree.ElementTree import Element

from searchengine.media.formats.base import Budget, Format, Section
from searchengine.media.formats.container import Container, is_zip, local

_BLOCKS = ("p", "h")


def _text(el: Element, parts: list[str]) -> None:
    """``el``'s own text, spaces, tabs and breaks; nested blocks (notes, frames) left out."""
    if el.text:
        parts.append(el.text)
    for child in el:
        name = local(child.tag)
        if name == "s":
            parts.append(" " * int(child.get("{urn:oasis:names:tc:opendocument:xmlns:text:1.0}c", "1") or 1))
        elif name == "tab":
            parts.append("\t")
        elif name == "line-break":
            parts.append("\n")
        elif name not in _BLOCKS and name != "note":
            _text(child, parts)
        if child.tail:
            parts.append(child.tail)


def read(path: Path, budget: Budget) -> list[Section]:
    with Container(budget) as doc:
        root = doc.xml("content.xml")
    lines = []
    for node in root.iter():
        if local(node.tag) in _BLOCKS:
            parts: list[str] = []
            _text(node, parts)
            line = "".join(parts).strip()
            if line:
                lines.append(line)
    text = "\n\n".join(lines)
    budget.add_chars(len(text))
    return [Section(text)]


FORMAT = Format("odt", "text", (".odt",), read=read, sniff=is_zip,
                mime="application/vnd.oasis.opendocument.text", description="OpenDocument text")
