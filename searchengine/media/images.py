"""Decoding images: every format Pillow reads, HEIC/HEIF through pillow-heif, EXIF
orientation applied, first frame of animations, RGB out."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

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


MAX_SIDE = 1024  # models see 224-336 px and thumbnails are at most 512: never keep more


def load_image(path: Path | BinaryIO, max_pixels: int | None = None) -> Image.Image:
    """Decode ``path`` (a file or a binary stream) into an RGB image of at most ``MAX_SIDE``
    pixels a side, or raise :class:`MediaDecodeError`. JPEGs are decoded at reduced scale
    and everything is shrunk before colour conversion, so memory stays near the decoded
    size. ``max_pixels`` refuses larger images before decoding them."""
    _register_heif()
    name = path if isinstance(path, (str, Path)) else getattr(path, "name", "the image")
    try:
        with Image.open(path) as img:
            img.seek(0)
            if max_pixels is not None and img.width * img.height > max_pixels:
                raise MediaDecodeError(
                    f"{name}: {img.width}x{img.height} pixels is more than the limit of "
                    f"{max_pixels / 1e6:.0f} million; use a smaller image"
                )
            orientation = img.getexif().get(0x0112, 1)
            img.draft("RGB", (MAX_SIDE, MAX_SIDE))  # JPEG: decode at 1/2, 1/4 or 1/8 scale
            img.load()
            small = img.copy() if img.mode in ("RGB", "L", "RGBA", "LA") else img.convert("RGBA")
        small.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.BILINEAR)
        if orientation != 1:
            exif = Image.Exif()
            exif[0x0112] = orientation
            small.info["exif"] = exif.tobytes()
            small = ImageOps.exif_transpose(small)
        return small.convert("RGB") if small.mode != "RGB" else small
    except MediaDecodeError:
        raise
    except FileNotFoundError as exc:
        raise MediaDecodeError(f"{name}: file not found") from exc
    except UnidentifiedImageError as exc:
        raise MediaDecodeError(f"{name}: not a readable image (unknown or corrupt format)") from exc
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise MediaDecodeError(f"{name}: cannot decode image: {exc}") from exc


def load_query_image(path: Path) -> Image.Image:
    """Like :func:`load_image`, but a failure is the user's input error."""
    if not Path(path).is_file():
        raise InvalidInputError(f"query image {path} does not exist or is not a file")
    try:
        return load_image(path)
    except MediaDecodeError as exc:
        raise InvalidInputError(f"cannot read the query image: {exc}") from exc
