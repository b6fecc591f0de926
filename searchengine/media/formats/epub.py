"""E-books (.epub): the text of each document in the reading order (the spine); ``page`` is
the chapter's place in it. A book with encrypted content (DRM) is refused with its reason."""

from __future__ import annotations

import posixpath
from pathlib import Path

from searchengine.media.formats.base import Budget, Format, Section
from searchengine.media.formats.container import Container, is_zip, local
from searchengine.media.formats.html import decode_bytes, main_text


def read(path: Path, budget: Budget) -> list[Section]:
    with Container(budget) as book:
        names = set(book.names())
        if "META-INF/encryption.xml" in names:
            enc = book.xml("META-INF/encryption.xml")
            if any(local(e.tag) == "EncryptedData" for e in enc.iter()):
                raise budget.refuse("encrypted (DRM-protected) e-book: skipped")
        container = book.xml("META-INF/container.xml")
        opf_path = next((r.get("full-path") for r in container.iter() if local(r.tag) == "rootfile"), None)
        if not opf_path:
            raise budget.refuse("no package document in META-INF/container.xml; not an EPUB?")
        opf = book.xml(opf_path)
        base = posixpath.dirname(opf_path)
        items = {i.get("id"): i.get("href", "") for i in opf.iter() if local(i.tag) == "item"}
        spine = [items.get(r.get("idref")) for r in opf.iter() if local(r.tag) == "itemref"]
        budget.check_pages(len(spine), "chapters")
        out = []
        for number, href in enumerate(spine, 1):
            if not href:
                continue
            name = posixpath.normpath(posixpath.join(base, href.split("#", 1)[0]))
            if name not in names:
                continue
            text = main_text(decode_bytes(book.read(name)))
            budget.add_chars(len(text))
            out.append(Section(text, page=number))
    return out


FORMAT = Format("epub", "text", (".epub",), read=read, sniff=is_zip, location="chapter",
                mime="application/epub+zip", description="e-book")
