"""Real camera RAW files for tests and benchmarks, written here (no RAW sample ships and
nothing is downloaded): a DNG (a TIFF with Adobe's DNG tags) whose raw image is a Bayer
mosaic (RGGB, 12 bits) of a real photo, as a sensor would have recorded it, optionally with
an embedded JPEG preview, an orientation, and EXIF (date taken, camera, GPS).

The camera's colour space is linear sRGB (ColorMatrix1 = XYZ(D65) -> linear sRGB, neutral
white balance), so LibRaw's demosaic of it is the photo again, up to interpolation."""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

# TIFF field types
BYTE, ASCII, SHORT, LONG, RATIONAL, SRATIONAL, UNDEFINED = 1, 2, 3, 4, 5, 10, 7
_SIZE = {BYTE: 1, ASCII: 1, SHORT: 2, LONG: 4, RATIONAL: 8, SRATIONAL: 8, UNDEFINED: 1}
WHITE = 4095  # 12-bit sensor
BLACK = 64

# XYZ (D65) -> linear sRGB (IEC 61966-2-1)
XYZ_TO_SRGB = ((3.2406, -1.5372, -0.4986), (-0.9689, 1.8758, 0.0415), (0.0557, -0.2040, 1.0570))


@dataclass
class _Ifd:
    entries: list[tuple[int, int, object]] = field(default_factory=list)

    def add(self, tag: int, kind: int, value: object) -> None:
        self.entries.append((tag, kind, value))


def _values(kind: int, value: object) -> tuple[bytes, int]:
    """Little-endian bytes of a field's value and its count."""
    if kind == ASCII:
        data = str(value).encode() + b"\0"
        return data, len(data)
    if kind in (BYTE, UNDEFINED):
        data = bytes(value)  # type: ignore[arg-type]
        return data, len(data)
    items = list(value) if isinstance(value, (list, tuple)) else [value]  # type: ignore[list-item]
    if kind == SHORT:
        return struct.pack(f"<{len(items)}H", *items), len(items)
    if kind == LONG:
        return struct.pack(f"<{len(items)}I", *items), len(items)
    fmt = "<ii" if kind == SRATIONAL else "<II"
    out = b""
    for item in items:
        num, den = item if isinstance(item, tuple) else (round(float(item) * 10000), 10000)  # type: ignore[misc]
        out += struct.pack(fmt, num, den)
    return out, len(items)


class _Writer:
    """Lays out IFDs and data blocks in one little-endian TIFF. Values that point at other
    things (strip offsets, sub-IFDs) are placeholders patched once everything is placed."""

    def __init__(self) -> None:
        self.buf = bytearray(b"II*\0\0\0\0\0")

    def blob(self, data: bytes) -> int:
        if len(self.buf) % 2:
            self.buf += b"\0"
        at = len(self.buf)
        self.buf += data
        return at

    def ifd(self, ifd: _Ifd) -> int:
        entries = sorted(ifd.entries, key=lambda e: e[0])
        if len(self.buf) % 2:
            self.buf += b"\0"
        at = len(self.buf)
        size = 2 + 12 * len(entries) + 4
        self.buf += b"\0" * size
        body = struct.pack("<H", len(entries))
        for tag, kind, value in entries:
            data, count = _values(kind, value)
            if len(data) <= 4:
                field_ = data.ljust(4, b"\0")
            else:
                field_ = struct.pack("<I", self.blob(data))
            body += struct.pack("<HHI", tag, kind, count) + field_
        body += b"\0\0\0\0"  # no next IFD
        self.buf[at:at + size] = body
        return at


def mosaic(photo: Image.Image) -> np.ndarray:
    """The RGGB Bayer mosaic (uint16, BLACK..WHITE) a sensor with sRGB primaries would have
    recorded of ``photo`` (sRGB, decoded to linear light first)."""
    rgb = np.asarray(photo.convert("RGB"), dtype=np.float32) / 255.0
    h, w = (rgb.shape[0] // 2) * 2, (rgb.shape[1] // 2) * 2
    rgb = rgb[:h, :w]
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    cfa = np.empty((h, w), dtype=np.float32)
    cfa[0::2, 0::2] = linear[0::2, 0::2, 0]  # R
    cfa[0::2, 1::2] = linear[0::2, 1::2, 1]  # G
    cfa[1::2, 0::2] = linear[1::2, 0::2, 1]  # G
    cfa[1::2, 1::2] = linear[1::2, 1::2, 2]  # B
    return (BLACK + cfa * (WHITE - BLACK)).round().astype("<u2")


def _dms(value: float) -> list[tuple[int, int]]:
    value = abs(value)
    d = int(value)
    m = int((value - d) * 60)
    s = (value - d - m / 60) * 3600
    return [(d, 1), (m, 1), (round(s * 100), 100)]


def write_dng(target: Path, photo: Image.Image, *, preview_side: int | None = 1024,
              orientation: int = 1, make: str = "Canon", model: str = "Canon EOS R5",
              taken: str | None = None, offset: str | None = None,
              gps: tuple[float, float] | None = None) -> Path:
    """Write ``photo`` as a DNG at ``target``: its raw Bayer mosaic, with a JPEG preview
    ``preview_side`` pixels on its long side in IFD0 (None: no preview at all, only the raw),
    TIFF ``orientation`` (1: as stored; 6: turn 90 degrees clockwise to view; 3; 8), the
    camera's make and model, and EXIF DateTimeOriginal/OffsetTimeOriginal and GPS if given."""
    raw = mosaic(photo)
    h, w = raw.shape
    out = _Writer()
    ifd0, sub, exif, gps_ifd = _Ifd(), _Ifd(), _Ifd(), _Ifd()

    def dng_tags(ifd: _Ifd) -> None:
        ifd.add(0x010F, ASCII, make)  # Make
        ifd.add(0x0110, ASCII, model)  # Model
        ifd.add(0x0112, SHORT, orientation)
        ifd.add(0xC612, BYTE, (1, 4, 0, 0))  # DNGVersion
        ifd.add(0xC613, BYTE, (1, 1, 0, 0))  # DNGBackwardVersion
        ifd.add(0xC614, ASCII, f"{make} {model}")  # UniqueCameraModel
        ifd.add(0xC621, SRATIONAL, [(round(v * 10000), 10000) for row in XYZ_TO_SRGB for v in row])  # ColorMatrix1
        ifd.add(0xC65A, SHORT, 21)  # CalibrationIlluminant1: D65
        ifd.add(0xC628, RATIONAL, [(1, 1), (1, 1), (1, 1)])  # AsShotNeutral

    def raw_tags(ifd: _Ifd, subfile: int) -> None:
        ifd.add(0x00FE, LONG, subfile)  # NewSubfileType: 0 = the main image
        ifd.add(0x0100, LONG, w)
        ifd.add(0x0101, LONG, h)
        ifd.add(0x0102, SHORT, 16)
        ifd.add(0x0103, SHORT, 1)  # uncompressed
        ifd.add(0x0106, SHORT, 32803)  # CFA
        ifd.add(0x0115, SHORT, 1)
        ifd.add(0x0116, LONG, h)
        ifd.add(0x011C, SHORT, 1)
        ifd.add(0x828D, SHORT, (2, 2))  # CFARepeatPatternDim
        ifd.add(0x828E, BYTE, (0, 1, 1, 2))  # CFAPattern: R G / G B
        ifd.add(0xC61A, LONG, BLACK)  # BlackLevel
        ifd.add(0xC61D, LONG, WHITE)  # WhiteLevel

    raw_at = out.blob(raw.tobytes())
    if taken or offset:
        if taken:
            exif.add(0x9003, ASCII, taken)  # DateTimeOriginal
        if offset:
            exif.add(0x9011, ASCII, offset)  # OffsetTimeOriginal
    if gps:
        lat, lon = gps
        gps_ifd.add(0x0000, BYTE, (2, 3, 0, 0))
        gps_ifd.add(0x0001, ASCII, "N" if lat >= 0 else "S")
        gps_ifd.add(0x0002, RATIONAL, _dms(lat))
        gps_ifd.add(0x0003, ASCII, "E" if lon >= 0 else "W")
        gps_ifd.add(0x0004, RATIONAL, _dms(lon))

    dng_tags(ifd0)
    if preview_side is None:
        raw_tags(ifd0, 0)
        ifd0.add(0x0111, LONG, raw_at)
        ifd0.add(0x0117, LONG, raw.nbytes)
    else:
        preview = photo.convert("RGB")
        preview.thumbnail((preview_side, preview_side))
        jpeg = io.BytesIO()
        preview.save(jpeg, format="JPEG", quality=90)
        jpeg_at = out.blob(jpeg.getvalue())
        ifd0.add(0x00FE, LONG, 1)  # a reduced-resolution copy
        ifd0.add(0x0100, LONG, preview.width)
        ifd0.add(0x0101, LONG, preview.height)
        ifd0.add(0x0102, SHORT, (8, 8, 8))
        ifd0.add(0x0103, SHORT, 7)  # JPEG
        ifd0.add(0x0106, SHORT, 6)  # YCbCr
        ifd0.add(0x0111, LONG, jpeg_at)
        ifd0.add(0x0115, SHORT, 3)
        ifd0.add(0x0116, LONG, preview.height)
        ifd0.add(0x0117, LONG, len(jpeg.getvalue()))
        raw_tags(sub, 0)
        sub.add(0x0111, LONG, raw_at)
        sub.add(0x0117, LONG, raw.nbytes)
        ifd0.add(0x014A, LONG, out.ifd(sub))  # SubIFDs
    if exif.entries:
        ifd0.add(0x8769, LONG, out.ifd(exif))
    if gps_ifd.entries:
        ifd0.add(0x8825, LONG, out.ifd(gps_ifd))
    first = out.ifd(ifd0)
    out.buf[4:8] = struct.pack("<I", first)
    target.write_bytes(bytes(out.buf))
    return target
