"""Decoding images: JPEG, PNG, WebP, GIF, BMP, TIFF and HEIC/HEIF (pillow-heif) only, EXIF
orientation applied, first frame of animations, RGB out, bounded in pixels and memory; camera
RAW files (by their extension) through :mod:`searchengine.media.formats.raw`."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import BinaryIO, Callable, ContextManager, Iterator

from PIL import Image, ImageOps, UnidentifiedImageError

from searchengine.errors import InvalidInputError, MediaDecodeError, MediaTooLargeError
from searchengine.media.formats.raw import is_raw, load_raw
from searchengine.media.regular import open_regular
from searchengine.media.pathnames import display_path

_heif_registered = False

# The formats we index (README, "What gets indexed"); nothing else is ever parsed, so an
# exotic decoder (EPS, FITS, ...) cannot be reached by renaming a file to .jpg.
FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "HEIF")
MAX_SIDE = 1024  # models see 224-336 px and thumbnails are at most 512: never keep more
DEFAULT_MAX_PIXELS = 120_000_000  # a 100-megapixel camera fits; a decompression bomb does not
# peak bytes a decode takes per pixel, by format (the decoded picture and the decoder's own
# buffers: WebP decodes to RGBA through YUV planes, ~1 GB for 64 Mpx); others: 8
DECODE_BYTES_PER_PIXEL = {"WEBP": 16, "PNG": 8, "JPEG": 4, "GIF": 6, "BMP": 8, "TIFF": 8, "HEIF": 12}


def decode_bytes(img: Image.Image) -> int:
    """What decoding ``img`` (opened, not yet loaded) may take at its peak, in bytes."""
    return img.width * img.height * DECODE_BYTES_PER_PIXEL.get(img.format or "", 8)


def _register_heif() -> None:
    global _heif_registered
    if not _heif_registered:
        try:
            import pillow_heif

            pillow_heif.register_heif_opener()
        except ImportError:  # pragma: no cover - a dependency of the project
            pass
        _heif_registered = True


class PixelBudget:
    """At most ``total`` pixels being decoded at once across threads (an image over the
    budget waits until it is alone). Bounds the memory of concurrent decodes."""

    def __init__(self, total: int):
        self.total, self._used = total, 0
        self._cond = threading.Condition()

    @contextlib.contextmanager
    def reserve(self, pixels: int) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: self._used == 0 or self._used + pixels <= self.total)
            self._used += pixels
        try:
            yield
        finally:
            with self._cond:
                self._used -= pixels
                self._cond.notify_all()

    @property
    def in_use(self) -> int:
        return self._used


def _name(path: Path | str | BinaryIO) -> str:
    if isinstance(path, (str, Path)):
        return display_path(path)
    return display_path(str(getattr(path, "name", "the image")))


def load_image(path: Path | str | BinaryIO, max_pixels: int | None = DEFAULT_MAX_PIXELS,
               pixel_gate: Callable[[int], ContextManager[object]] | None = None,
               min_side: int | None = None, max_bytes: int | None = None,
               byte_gate: Callable[[int], ContextManager[object]] | None = None) -> Image.Image:
    """Decode ``path`` (a file or a binary stream) into an RGB image of at most ``MAX_SIDE``
    pixels a side, or raise :class:`MediaDecodeError` naming the file. Only the formats in
    ``FORMATS`` are parsed, and camera RAW files (by the extension of the path, or of the
    stream's ``name``) through LibRaw; a path must be a regular file (never a FIFO or device). JPEGs
    are decoded at reduced scale and everything is shrunk in place before colour
    conversion, so memory stays near the decoded size. ``max_pixels`` refuses larger images
    from their header, before decoding; ``pixel_gate(pixels)`` (e.g.
    :meth:`PixelBudget.reserve`) is held around the decode. ``min_side`` (a model's input
    size) lets a JPEG decode at the smallest scale whose sides are still at least that long:
    a 12-megapixel photo for a 224-pixel model decodes at 1/8, several times faster.
    ``max_bytes`` refuses images whose decode would take more bytes (:func:`decode_bytes`);
    ``byte_gate(bytes)`` (e.g. :meth:`PixelBudget.reserve` of a budget in bytes) is held
    around the decode."""
    _register_heif()
    name = _name(path)
    try:
        if is_raw(path if isinstance(path, (str, Path)) else str(getattr(path, "name", ""))):
            return load_raw(path, name, max_side=MAX_SIDE, min_side=min_side, max_pixels=max_pixels,
                            max_bytes=max_bytes, pixel_gate=pixel_gate, byte_gate=byte_gate)
        with contextlib.ExitStack() as stack:
            stream = stack.enter_context(open_regular(path)) if isinstance(path, (str, Path)) else path
            _check_webp_header(stream, name, max_pixels, max_bytes)
            img = stack.enter_context(Image.open(stream, formats=FORMATS))
            pixels = img.width * img.height  # from the header: checked before anything is decoded
            if max_pixels is not None and pixels > max_pixels:
                raise MediaTooLargeError(
                    f"{name}: {img.width}x{img.height} pixels is more than the limit of "
                    f"{max_pixels / 1e6:.0f} million; use a smaller image"
                )
            cost = decode_bytes(img)
            if max_bytes is not None and cost > max_bytes:
                raise MediaTooLargeError(
                    f"{name}: decoding this {img.format} image of {img.width}x{img.height} pixels would take "
                    f"about {cost / 2**20:,.0f} MB, more than the limit of {max_bytes / 2**20:,.0f} MB; use a smaller image"
                )
            stack.enter_context(pixel_gate(pixels) if pixel_gate else contextlib.nullcontext())
            stack.enter_context(byte_gate(cost) if byte_gate else contextlib.nullcontext())
            img.seek(0)
            orientation = img.getexif().get(0x0112, 1)
            side = min(min_side, MAX_SIDE) if min_side else MAX_SIDE
            img.draft("RGB", (side, side))  # JPEG: decode at 1/2, 1/4 or 1/8 scale
            img.load()
            if img.mode in ("P", "1", "PA"):  # palette: resizing needs real colours
                small = img.convert("RGBA")
                small.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.BILINEAR)
            elif img.mode in ("RGB", "L", "RGBA", "LA"):
                small = img.copy() if max(img.size) <= MAX_SIDE else img.resize(
                    _fit(img.size), Image.Resampling.BILINEAR, reducing_gap=2.0)
            else:  # CMYK, I;16, F ...: shrink first, then convert the small one
                small = img.resize(_fit(img.size), Image.Resampling.BILINEAR) if max(img.size) > MAX_SIDE else img.copy()
                small = small.convert("RGBA") if "A" in small.mode else small.convert("RGB")
            del img
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
        raise MediaDecodeError(
            f"{name}: not a readable image (unknown or corrupt format; read are "
            f"{', '.join(FORMATS)})"
        ) from exc
    except Image.DecompressionBombError as exc:
        raise MediaTooLargeError(f"{name}: too many pixels to decode safely: {exc}") from exc
    except MemoryError as exc:
        raise MediaTooLargeError(f"{name}: not enough memory to decode this image") from exc
    except Exception as exc:  # any decoder failure (OSError, SyntaxError, struct.error, ...)
        raise MediaDecodeError(f"{name}: cannot decode image: {type(exc).__name__}: {exc}") from exc


def webp_size(head: bytes) -> tuple[int, int] | None:
    """Width and height from a WebP file's first 30 bytes (lossy, lossless or extended),
    or None when it is not a WebP file."""
    if len(head) < 30 or head[:4] != b"RIFF" or head[8:12] != b"WEBP":
        return None
    kind = head[12:16]
    if kind == b"VP8X":
        return 1 + int.from_bytes(head[24:27], "little"), 1 + int.from_bytes(head[27:30], "little")
    if kind == b"VP8L":
        bits = int.from_bytes(head[21:25], "little")
        return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    if kind == b"VP8 ":
        return int.from_bytes(head[26:28], "little") & 0x3FFF, int.from_bytes(head[28:30], "little") & 0x3FFF
    return None


def _check_webp_header(stream: BinaryIO, name: str, max_pixels: int | None, max_bytes: int | None) -> None:
    """Refuse an oversized WebP from its header: Pillow opens WebP through libwebp's
    animation decoder, which takes seconds on a 64-megapixel picture before any check."""
    if (max_pixels is None and max_bytes is None) or not stream.seekable():
        return
    at = stream.tell()
    size = webp_size(stream.read(30))
    stream.seek(at)
    if size is None:
        return
    pixels, cost = size[0] * size[1], size[0] * size[1] * DECODE_BYTES_PER_PIXEL["WEBP"]
    if (max_pixels is not None and pixels > max_pixels) or (max_bytes is not None and cost > max_bytes):
        raise MediaTooLargeError(
            f"{name}: decoding this WEBP image of {size[0]}x{size[1]} pixels would take about "
            f"{cost / 2**20:,.0f} MB, over the limits ({(max_pixels or 0) / 1e6:.0f} million pixels, "
            f"{(max_bytes or 0) / 2**20:,.0f} MB); use a smaller image"
        )


def _fit(size: tuple[int, int]) -> tuple[int, int]:
    w, h = size
    scale = MAX_SIDE / max(w, h)
    return max(1, round(w * scale)), max(1, round(h * scale))


def load_query_image(path: Path) -> Image.Image:
    """Like :func:`load_image`, but a failure is the user's input error."""
    if not Path(path).is_file():
        raise InvalidInputError(f"query image {display_path(path)} does not exist or is not a file")
    try:
        return load_image(path)
    except MediaDecodeError as exc:
        raise InvalidInputError(f"cannot read the query image: {exc}") from exc
