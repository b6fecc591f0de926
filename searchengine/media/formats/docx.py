"""Word documents (.docx): the body's paragraphs, in order (tables' cells included)."""

from __future__ import annotations

from pathlib import Path
from xml.etree.ElementTree import Element

from searchengine.media.formats.base import Budget, Format, Section
from searchengine.media.formats.container import Container, is_zip, local


def paragraphs(root: Element, para: str, text: str) -> list[str]:
    """The text of each ``para`` element (local name) under ``root``: its ``text`` runs,
    tabs and breaks kept as white space."""
    out = []
    for p in root.iter():
        if local(p.tag) != para:
            continue
        parts = []
        for node in p.iter():
            name = local(node.tag)
            if name == text and node.text:
                parts.append(node.text)
            elif name == "tab":
                parts.append("\t")
            elif name in ("br", "cr"):
                parts.append("\n")
        line = "".join(parts).strip()
        if line:
            out.append(line)
    return out


def read(path: Path, budget: Budget) -> list[Section]:
    with Container(budget) as doc:
        text = "\n\n".join(paragraphs(doc.xml("word/document.xml"), "p", "t"))
    budget.add_chars(len(text))
    return [Section(text)]


FORMAT = Format("docx", "text", (".docx", ".docm"), read=read, sniff=is_zip,
                mime="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                description="Word document")
