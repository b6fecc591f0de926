"""Content hashes: how a moved or copied file is recognised."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, BinaryIO

from searchengine.media.regular import open_regular

_CHUNK = 1 << 20


def content_hash(path: Path, sidecar: Path | None = None) -> str:
    """BLAKE2b of the file's bytes (and of its sidecar transcript's, when it has one).
    Only regular files are read: anything else raises :class:`NotRegularFileError` (an
    ``OSError``), so a FIFO or a link to a device can never block hashing."""
    digest = hashlib.blake2b(digest_size=20)
    for part in (path, sidecar):
        if part is None:
            continue
        with open_regular(part) as handle:
            _feed(digest, handle)
    return digest.hexdigest()


def stream_hash(handle: BinaryIO) -> str:
    """:func:`content_hash` of an open file without a sidecar (read from where it is)."""
    digest = hashlib.blake2b(digest_size=20)
    _feed(digest, handle)
    return digest.hexdigest()


def _feed(digest: Any, handle: BinaryIO) -> None:
    while chunk := handle.read(_CHUNK):
        digest.update(chunk)
