"""PowerPoint decks (.pptx): each slide's text, in the deck's order; ``page`` is the slide."""

from __future__ import annotations

import posixpath
from pathlib import Path

from searchengine.media.formats.base import Budget, Format, Section
from searchengine.media.formats.container import Container, is_zip, local
from searchengine.media.formats.docx import paragraphs

_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"


def read(path: Path, budget: Budget) -> list[Section]:
    with Container(budget) as deck:
        rels = {r.get("Id"): r.get("Target", "") for r in deck.xml("ppt/_rels/presentation.xml.rels").iter()
                if local(r.tag) == "Relationship"}
        order = [rels.get(s.get(_REL)) for s in deck.xml("ppt/presentation.xml").iter() if local(s.tag) == "sldId"]
        slides = [posixpath.normpath(posixpath.join("ppt", t.lstrip("/"))) if not t.startswith("/")
                  else t.lstrip("/") for t in order if t]
        budget.check_pages(len(slides), "slides")
        out = []
        for number, name in enumerate(slides, 1):
            text = "\n\n".join(paragraphs(deck.xml(name), "p", "t"))
            budget.add_chars(len(text))
            out.append(Section(text, page=number))
    return out


FORMAT = Format("pptx", "text", (".pptx", ".pptm"), read=read, sniff=is_zip, location="slide",
                mime="application/vnd.openxmlformats-officedocument.presentationml.presentation",
                description="PowerPoint deck")
