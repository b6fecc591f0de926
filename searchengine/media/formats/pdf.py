"""PDF (.pdf) through pypdfium2 (PDFium; BSD-3-Clause / Apache-2.0): the text layer of each
page; a page without one (a scan) is rendered for the OCR to read. ``page`` is 1-based."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any, BinaryIO

from searchengine.media.formats.base import Budget, Format, Section, password_protected
from searchengine.media.regular import open_regular
from searchengine.errors import MediaDecodeError, MediaTooLargeError

log = logging.getLogger(__name__)

SCAN_SIDE = 1280  # a scanned page is rendered this many pixels on its long side for the OCR
MIN_TEXT = 3  # a page with fewer characters than this in its text layer is read as a scan
FPDF_ERR_PASSWORD = 4
# PDFium is not thread-safe: one document at a time in a process (pypdfium2's advice)
LOCK = threading.RLock()


def _open(path: Path, budget: Budget, source: BinaryIO | None = None) -> tuple[Any, Any]:
    """The document and the file it reads (``source``, an open file of ``path``, if given;
    else ``path`` opened here); the caller closes both."""
    import pypdfium2 as pdfium

    handle = open_regular(path) if source is None else source
    try:
        handle.seek(0, 2)
        size = handle.tell()
        if size > budget.limits.max_bytes:
            raise MediaTooLargeError(f"{budget.name}: larger than the limit of {budget.limits.max_bytes:,} bytes; not indexed")
        handle.seek(0)
        if not handle.read(1024).lstrip().startswith(b"%PDF"):
            raise budget.refuse("not a PDF (no %PDF header)")
        handle.seek(0)
        try:
            doc = pdfium.PdfDocument(handle)
        except pdfium.PdfiumError as exc:
            if getattr(exc, "err_code", None) == FPDF_ERR_PASSWORD:
                raise password_protected(budget) from exc
            raise budget.refuse(f"damaged PDF: {exc}") from exc
    except BaseException:
        handle.close()
        raise
    return doc, handle


def page_count(path: Path) -> int:
    with LOCK:
        doc, handle = _open(path, Budget(path))
        try:
            return len(doc)
        finally:
            doc.close()
            handle.close()


def render_page(path: Path, page: int, side: int, source: BinaryIO | None = None) -> Any:
    """Page ``page`` (1-based) as a PIL image ``side`` pixels on its long side, read from
    ``source`` (an open file of ``path``) if given."""
    budget = Budget(path)
    with LOCK:
        doc, handle = _open(path, budget, source)
        try:
            if not 1 <= page <= len(doc):
                raise budget.refuse(f"no page {page} (it has {len(doc)})")
            return _render(doc[page - 1], side)
        finally:
            doc.close()
            handle.close()


def _render(page: Any, side: int) -> Any:
    width, height = page.get_size()
    scale = side / max(width, height, 1.0)
    return page.render(scale=scale).to_pil().convert("RGB")


def read(path: Path, budget: Budget) -> list[Section]:
    with LOCK:
        doc, handle = _open(path, budget)
        try:
            n = len(doc)
            budget.check_pages(n)
            out = []
            for i in range(n):
                budget.check_time()
                page = doc[i]
                try:
                    text = page.get_textpage().get_text_bounded().replace("\r\n", "\n").replace("\x00", "")
                    text = text.replace("\ufffe", "").replace("\x02", "")  # soft hyphens at line ends
                    if len(text.strip()) >= MIN_TEXT:
                        budget.add_chars(len(text))
                        out.append(Section(text.strip(), page=i + 1))
                    else:
                        out.append(Section("", page=i + 1, image=_render(page, SCAN_SIDE)))
                except MediaDecodeError:
                    raise
                except Exception as exc:  # one broken page costs that page, not the document
                    log.warning("%s: page %d cannot be read, left out: %s", budget.name, i + 1, exc)
                    out.append(Section("", page=i + 1))
                finally:
                    page.close()
            return out
        finally:
            doc.close()
            handle.close()


FORMAT = Format("pdf", "text", (".pdf",), read=read, sniff=lambda head: head.lstrip().startswith(b"%PDF"),
                location="page", mime="application/pdf", description="PDF document")
