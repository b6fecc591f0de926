"""Content hashes: how a moved or copied file is recognised."""

from __future__ import annotations

import hashlib
from pathlib import Path

_CHUNK = 1 << 20


def content_hash(path: Path, sidecar: Path | None = None) -> str:
    """BLAKE2b of the file's bytes (and of its sidecar transcript's, when it has one)."""
    digest = hashlib.blake2b(digest_size=20)
    for part in (path, sidecar):
        if part is None:
            continue
        with open(part, "rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()
