"""Decoding images: every format Pillow reads, HEIC/HEIF through pillow-heif, EXIF
orientation applied, first frame of animations, RGB out."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from searchengine.errors import InvalidInputError, MediaDecodeError

_heif_registered = False


def _register_heif() -> None:
    global _heif_registered
    if not _heif_registered:
        try:
            import pillow_heif

            pillow_heif.register_heif_opener()
        except ImportError:  # pragma: no cover - a dependency of the project
            pass
        _heif_registered = True


def load_image(path: Path) -> Image.Image:
    """Decode ``path`` fully into an RGB image, or raise :class:`MediaDecodeError`."""
    _register_heif()
    try:
        with Image.open(path) as img:
            img.seek(0)
            img.load()
            img = ImageOps.exif_transpose(img)
            return img.convert("RGB") if img.mode != "RGB" else img.copy()
    except FileNotFoundError as exc:
        raise MediaDecodeError(f"{path}: file not found") from exc
    except UnidentifiedImageError as exc:
        raise MediaDecodeError(f"{path}: not a readable image (unknown or corrupt format)") from exc
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise MediaDecodeError(f"{path}: cannot decode image: {exc}") from exc


def load_query_image(path: Path) -> Image.Image:
    """Like :func:`load_image`, but a failure is the user's input error."""
    if not Path(path).is_file():
        raise InvalidInputError(f"query image {path} does not exist or is not a file")
    try:
        return load_image(path)
    except MediaDecodeError as exc:
        raise InvalidInputError(f"cannot read the query image: {exc}") from exc
