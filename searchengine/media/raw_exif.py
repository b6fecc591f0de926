"""The EXIF of a camera RAW file, read from its header without LibRaw (which gives neither
the time zone nor the GPS position): the TIFF structure of DNG, CR2, NEF, ARW, ORF and RW2
(ORF and RW2 differ only in their magic number), Canon CR3's CMT boxes (each a TIFF), and
the JPEG preview inside a Fujifilm RAF. Returns Pillow ``Exif`` dictionaries: the main IFD,
the EXIF IFD and the GPS IFD (empty ones when absent)."""

from __future__ import annotations

import io
import struct
import warnings
from typing import BinaryIO

from PIL import Image

EXIF_IFD, GPS_IFD = 0x8769, 0x8825
CR3_HEAD = 256 * 1024  # the CMT boxes sit in the moov box at the start of the file
RAF_MAX_JPEG = 32 * 1024 * 1024


def _tiff(handle: BinaryIO) -> tuple[Image.Exif, dict, dict]:
    """The IFDs of the TIFF structure ``handle`` holds from its start (any magic number)."""
    handle.seek(0)
    head = handle.read(8)
    if len(head) < 8 or head[:2] not in (b"II", b"MM"):
        raise ValueError("not a TIFF structure")
    endian = "<" if head[:2] == b"II" else ">"
    (first,) = struct.unpack(endian + "I", head[4:8])
    exif = Image.Exif()
    exif.endian = endian
    exif.load_from_fp(handle, first)
    return exif, dict(exif.get_ifd(EXIF_IFD)), dict(exif.get_ifd(GPS_IFD))


def _cr3(handle: BinaryIO) -> tuple[Image.Exif, dict, dict]:
    data = handle.read(CR3_HEAD)
    boxes: dict[bytes, bytes] = {}
    for name in (b"CMT1", b"CMT2", b"CMT4"):
        at = data.find(name)
        if at >= 4:
            (size,) = struct.unpack(">I", data[at - 4:at])
            boxes[name] = data[at + 4:at - 4 + size]
    main = _tiff(io.BytesIO(boxes[b"CMT1"]))[0] if b"CMT1" in boxes else Image.Exif()
    sub = dict(_tiff(io.BytesIO(boxes[b"CMT2"]))[0]) if b"CMT2" in boxes else {}
    gps = dict(_tiff(io.BytesIO(boxes[b"CMT4"]))[0]) if b"CMT4" in boxes else {}
    return main, sub, gps


def _raf(handle: BinaryIO) -> tuple[Image.Exif, dict, dict]:
    handle.seek(84)
    offset, length = struct.unpack(">II", handle.read(8))
    if length > RAF_MAX_JPEG:
        raise ValueError("RAF preview too large")
    handle.seek(offset)
    with Image.open(io.BytesIO(handle.read(length)), formats=["JPEG"]) as img:
        exif = img.getexif()
        return exif, dict(exif.get_ifd(EXIF_IFD)), dict(exif.get_ifd(GPS_IFD))


def read_raw_exif(handle: BinaryIO) -> tuple[Image.Exif, dict, dict]:
    """The main, EXIF and GPS IFDs of the RAW file open in ``handle``; raises on a file
    whose header is not one of the RAW layouts (the caller treats that as no facts)."""
    head = handle.read(16)
    handle.seek(0)
    with warnings.catch_warnings():  # Pillow warns of "corrupt EXIF" in junk; the caller reports none
        warnings.simplefilter("ignore")
        if head.startswith(b"FUJIFILMCCD-RAW"):
            return _raf(handle)
        if head[4:12] == b"ftypcrx ":
            return _cr3(handle)
        return _tiff(handle)
