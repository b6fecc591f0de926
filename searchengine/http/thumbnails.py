"""Thumbnails of indexed images: made once, cached on disk in the index folder."""

from __future__ import annotations

import io
from pathlib import Path

from searchengine.catalog.atomic_files import atomic_write_bytes
from searchengine.media.images import load_image


def thumbnail(source: Path, content_hash: str, size: int, cache_dir: Path, *, page: int | None = None) -> Path:
    """Path of a JPEG at most ``size`` pixels on its longer side (made on first request):
    of the image, or with ``page`` of that page (1-based) of a PDF."""
    target = cache_dir / (f"{content_hash}-p{page}-{size}.jpg" if page is not None else f"{content_hash}-{size}.jpg")
    if target.is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    if page is not None:
        from searchengine.media.formats.pdf import render_page

        img = render_page(source, page, size)
    else:
        img = load_image(source)
    img.thumbnail((size, size))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=85)
    atomic_write_bytes(target, buf.getvalue())
    return target
