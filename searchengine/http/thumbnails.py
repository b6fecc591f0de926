"""Thumbnails of indexed images: made once, cached on disk in the index folder."""

from __future__ import annotations

import io
from pathlib import Path

from searchengine.catalog.atomic_files import atomic_write_bytes
from searchengine.media.images import load_image

def thumbnail(source: Path, content_hash: str, size: int, cache_dir: Path) -> Path:
    """Path of a JPEG at most ``size`` pixels on its longer side (made on first request)."""
    target = cache_dir / f"{content_hash}-{size}.jpg"
    if target.is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    img = load_image(source)
    img.thumbnail((size, size))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=85)
    atomic_write_bytes(target, buf.getvalue())
    return target
