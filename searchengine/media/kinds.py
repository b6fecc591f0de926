"""Which file extensions are which modality."""

from __future__ import annotations

from pathlib import Path

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".heic", ".heif"}
)
TEXT_EXTENSIONS = frozenset({".txt", ".md"})

MODALITIES = ("image", "text")


def modality_of(path: Path) -> str | None:
    """The modality a file is indexed as, or None for a file we skip."""
    suffix = path.suffix.lower()
    if suffix in IMAGE_EXTENSIONS:
        return "image"
    if suffix in TEXT_EXTENSIONS:
        return "text"
    return None
