"""Camera RAW photos (DNG, CR2, CR3, NEF, ARW, ORF, RW2, RAF) through rawpy (MIT), the Python
binding of LibRaw (LGPL-2.1 or CDDL-1.0; its wheel ships it under the LGPL-2.1).

The picture indexed is the camera's own embedded preview (a JPEG or a bitmap) when it is at
least :data:`MIN_PREVIEW_SIDE` pixels on its long side and has the photo's shape; otherwise
the raw mosaic is demosaicked at half size (LibRaw's ``half_size``: one pixel per 2x2 Bayer
cell, no interpolation) with the camera's white balance. Either way the orientation the
camera recorded is applied. Date taken, camera and GPS come from the RAW's EXIF
(:mod:`searchengine.media.raw_exif`)."""

from __future__ import annotations

import contextlib
import io
import logging
from pathlib import Path
from typing import Any, BinaryIO, Callable, ContextManager

from PIL import Image, ImageOps

from searchengine.errors import MediaDecodeError, MediaTooLargeError
from searchengine.media.formats.base import Format

log = logging.getLogger(__name__)

EXTENSIONS = (".dng", ".cr2", ".cr3", ".nef", ".arw", ".orf", ".rw2", ".raf")
MIN_PREVIEW_SIDE = 512  # thumbnails are at most 512 px and the models see 224-336
MAX_FILE_BYTES = 512 * 1024 * 1024  # LibRaw reads the whole file into memory
DEMOSAIC_BYTES_PER_PIXEL = 6  # the raw mosaic (2 bytes a photosite) + LibRaw's half-size image (4 x 16 bits / 4)
SHAPE_TOLERANCE = 0.06  # a preview whose width/height differs more than this from the photo's is letterboxed

# LibRaw's ``flip`` (sizes.flip) -> the transposes that make the picture upright
_FLIP = {3: (Image.Transpose.ROTATE_180,), 5: (Image.Transpose.ROTATE_90,), 6: (Image.Transpose.ROTATE_270,)}


def sniff(head: bytes) -> bool:
    """TIFF-based RAW (DNG, CR2, NEF, ARW), Olympus ORF, Panasonic RW2, Fujifilm RAF, Canon CR3."""
    return (head[:4] in (b"II*\0", b"MM\0*", b"IIRO", b"MMOR", b"IIRS", b"IIU\0")
            or head.startswith(b"FUJIFILMCCD-RAW") or head[4:12] == b"ftypcrx ")


FORMAT = Format("raw", "image", EXTENSIONS, sniff=sniff, mime="image/x-raw",
                description="camera RAW photo (rawpy/LibRaw)")


def _reason(exc: BaseException) -> str:
    """LibRaw's message as text (rawpy gives its bytes' repr: ``b'Input/output error'``)."""
    text = str(exc)
    return text[2:-1] if len(text) >= 3 and text[:2] in ("b'", 'b"') else text


def is_raw(name: str | Path) -> bool:
    return Path(str(name)).suffix.lower() in EXTENSIONS


def _upright(img: Image.Image, flip: int, sensor: tuple[int, int]) -> Image.Image:
    """``img`` (a preview) turned as LibRaw's ``flip`` says, unless it is already turned (a
    portrait preview of a landscape sensor); with no flip, the preview's own EXIF
    orientation, if any, is applied."""
    turns = _FLIP.get(flip, ())
    if flip in (5, 6) and (img.width > img.height) != (sensor[0] > sensor[1]):
        turns = ()  # the camera stored the preview upright already
    if not turns:
        return ImageOps.exif_transpose(img) if flip == 0 else img
    for t in turns:
        img = img.transpose(t)
    return img


def _same_shape(preview: tuple[int, int], sensor: tuple[int, int]) -> bool:
    if min(preview) <= 0 or min(sensor) <= 0:
        return False
    a, b = preview[0] / preview[1], sensor[0] / sensor[1]
    return min(abs(a - b) / b, abs(1 / a - b) / b) <= SHAPE_TOLERANCE


def _preview(raw: Any, sensor: tuple[int, int], min_side: int | None) -> Image.Image | None:
    """The embedded preview, decoded, when it is large enough and of the photo's shape."""
    import rawpy

    try:
        thumb = raw.extract_thumb()
    except (rawpy.LibRawNoThumbnailError, rawpy.LibRawUnsupportedThumbnailError):
        return None
    except rawpy.LibRawError as exc:  # a broken preview: the raw data may still be fine
        log.debug("preview unreadable, demosaicking: %s", exc)
        return None
    img: Image.Image
    if thumb.format == rawpy.ThumbFormat.JPEG:
        img = Image.open(io.BytesIO(thumb.data), formats=["JPEG"])
        if max(img.size) < MIN_PREVIEW_SIDE or not _same_shape(img.size, sensor):
            return None
        side = max(min_side or 0, MIN_PREVIEW_SIDE)
        img.draft("RGB", (side, side))
        img.load()
    elif thumb.format == rawpy.ThumbFormat.BITMAP:
        img = Image.fromarray(thumb.data)
        if max(img.size) < MIN_PREVIEW_SIDE or not _same_shape(img.size, sensor):
            return None
    else:  # pragma: no cover - rawpy has only the two
        return None
    return img


def load_raw(source: Path | str | BinaryIO, name: str, *, max_side: int, min_side: int | None = None,
             max_pixels: int | None = None, max_bytes: int | None = None,
             pixel_gate: Callable[[int], ContextManager[object]] | None = None,
             byte_gate: Callable[[int], ContextManager[object]] | None = None) -> Image.Image:
    """Decode the RAW photo ``source`` (a path or an open binary file; ``name`` for messages)
    into an upright RGB image at most ``max_side`` pixels a side: its embedded preview, or a
    half-size demosaic when it has no usable one. ``max_pixels``/``max_bytes`` refuse a
    sensor over the limits before any demosaic; the gates are held around it."""
    import rawpy

    from searchengine.media.regular import open_regular

    with contextlib.ExitStack() as stack:
        stream = stack.enter_context(open_regular(source)) if isinstance(source, (str, Path)) else source
        if stream.seekable():
            at = stream.tell()
            size = stream.seek(0, io.SEEK_END) - at
            stream.seek(at)
            if size > MAX_FILE_BYTES:
                raise MediaTooLargeError(f"{name}: a RAW file of {size / 2**20:,.0f} MB, over the limit of "
                                         f"{MAX_FILE_BYTES / 2**20:,.0f} MB; not indexed")
        try:
            raw = stack.enter_context(rawpy.imread(stream))
            sizes = raw.sizes
        except rawpy.LibRawFileUnsupportedError as exc:
            raise MediaDecodeError(f"{name}: not a RAW photo LibRaw can read ({_reason(exc)}); convert it to DNG "
                                  "or JPEG") from exc
        except rawpy.LibRawError as exc:
            raise MediaDecodeError(f"{name}: damaged RAW file: {_reason(exc)}") from exc
        sensor = (sizes.width, sizes.height)
        pixels = sizes.raw_width * sizes.raw_height
        if max_pixels is not None and pixels > max_pixels:
            raise MediaTooLargeError(f"{name}: a sensor of {sizes.raw_width}x{sizes.raw_height} pixels is more than "
                                     f"the limit of {max_pixels / 1e6:.0f} million; not indexed")
        try:
            img = _preview(raw, sensor, min_side)
        except Exception as exc:  # noqa: BLE001 - a preview Pillow cannot read: demosaic instead
            log.debug("%s: preview unreadable (%s), demosaicking", name, exc)
            img = None
        if img is not None:
            img = _upright(img, sizes.flip, sensor)
        else:
            cost = pixels * DEMOSAIC_BYTES_PER_PIXEL
            if max_bytes is not None and cost > max_bytes:
                raise MediaTooLargeError(
                    f"{name}: demosaicking this RAW photo of {sizes.raw_width}x{sizes.raw_height} pixels would take "
                    f"about {cost / 2**20:,.0f} MB, more than the limit of {max_bytes / 2**20:,.0f} MB")
            stack.enter_context(pixel_gate(pixels) if pixel_gate else contextlib.nullcontext())
            stack.enter_context(byte_gate(cost) if byte_gate else contextlib.nullcontext())
            try:
                rgb = raw.postprocess(half_size=True, use_camera_wb=True, output_bps=8)  # flip applied
            except rawpy.LibRawError as exc:
                raise MediaDecodeError(f"{name}: the RAW data cannot be decoded: {_reason(exc)}") from exc
            img = Image.fromarray(rgb)
    if max(img.size) > max_side:
        scale = max_side / max(img.size)
        img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))),
                         Image.Resampling.BILINEAR, reducing_gap=2.0)
    return img.convert("RGB") if img.mode != "RGB" else img
