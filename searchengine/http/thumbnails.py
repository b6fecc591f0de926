"""Thumbnails of indexed images and PDF pages: made once, cached on disk in the index folder.

A thumbnail is cached under the content hash of its source only after the bytes it was made
from were hashed and found to be that content: a file swapped while being read can never
put another picture in the cache under a real photo's hash."""

from __future__ import annotations

import io
from pathlib import Path
from typing import BinaryIO

from searchengine.catalog.atomic_files import atomic_write_bytes
from searchengine.errors import MediaDecodeError
from searchengine.media.hashing import stream_hash
from searchengine.media.images import load_image

CACHE_VERSION = 2  # in the name: caches of older versions (made unchecked) are never used


class ContentChangedError(MediaDecodeError):
    """The source's bytes are not the content that was indexed."""


def cached_name(content_hash: str, size: int, page: int | None = None) -> str:
    return (f"{content_hash}-p{page}-{size}-v{CACHE_VERSION}.jpg" if page is not None
            else f"{content_hash}-{size}-v{CACHE_VERSION}.jpg")


def thumbnail(source: BinaryIO, content_hash: str, size: int, cache_dir: Path, *,
              page: int | None = None, path: Path | None = None) -> Path:
    """Path of a JPEG at most ``size`` pixels on its longer side (made on first request
    from ``source``, an open file that must hold ``content_hash``'s bytes): of the image,
    or with ``page`` of that page (1-based) of a PDF (``path``: its name, for messages)."""
    target = cache_dir / cached_name(content_hash, size, page)
    if target.is_file():
        return target
    if stream_hash(source) != content_hash:
        raise ContentChangedError("the file's content is not what was indexed; re-index to update")
    source.seek(0)
    if page is not None:
        from searchengine.media.formats.pdf import render_page

        img = render_page(path if path is not None else Path("document.pdf"), page, size, source)
    else:
        img = load_image(source)
    img.thumbnail((size, size))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=85)
    cache_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(target, buf.getvalue())
    return target
