"""When and where a photo was taken, and with what: EXIF DateTimeOriginal (with its
OffsetTimeOriginal; without one the time is taken as UTC), the GPS position, the camera's
make and model; a video's creation time from its container. Read from the header only (no
pixels are decoded; camera RAW files by :mod:`searchengine.media.raw_exif`); a photo without
them has none, never an error."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from PIL import Image

from searchengine.media.regular import open_regular

log = logging.getLogger(__name__)

EXIF_IFD, GPS_IFD = 0x8769, 0x8825
MAKE, MODEL, DATETIME = 0x010F, 0x0110, 0x0132
DATETIME_ORIGINAL, OFFSET_TIME_ORIGINAL, DATETIME_DIGITIZED = 0x9003, 0x9011, 0x9004


@dataclass(frozen=True)
class PhotoFacts:
    taken_ns: int | None = None  # UTC nanoseconds since the epoch
    latitude: float | None = None
    longitude: float | None = None
    camera: str | None = None  # "Make Model", the make not repeated

    def __bool__(self) -> bool:
        return self.taken_ns is not None or self.latitude is not None or self.camera is not None


_EXIF_TIME = re.compile(r"(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_OFFSET = re.compile(r"([+-])(\d{2}):?(\d{2})")


def exif_time(value: Any, offset: Any = None) -> int | None:
    """``2024:05:01 14:30:00`` (+ ``+09:00``) as UTC nanoseconds; None when not a time."""
    m = _EXIF_TIME.match(str(value or "").strip())
    if not m:
        return None
    tz = timezone.utc
    o = _OFFSET.match(str(offset or "").strip())
    if o:
        delta = timedelta(hours=int(o.group(2)), minutes=int(o.group(3)))
        tz = timezone(delta if o.group(1) == "+" else -delta)
    try:
        y, mo, d, h, mi, sec = (int(g) for g in m.groups())
        moment = datetime(y, mo, d, h, mi, sec, tzinfo=tz)
    except ValueError:  # 0000:00:00 00:00:00 and other placeholders
        return None
    return int(moment.timestamp()) * 1_000_000_000


def _degrees(value: Any, ref: Any) -> float | None:
    try:
        d, m, s = (float(x) for x in value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    deg = d + m / 60 + s / 3600
    if str(ref or "").strip().upper() in ("S", "W"):
        deg = -deg
    return deg


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return str(value or "").replace("\x00", "").strip()


def read_photo_facts(path: Path) -> PhotoFacts:
    from searchengine.media.formats.raw import is_raw

    try:
        with open_regular(path) as handle:
            if is_raw(path):
                from searchengine.media.raw_exif import read_raw_exif

                exif, sub, gps = read_raw_exif(handle)
            else:
                with Image.open(handle) as img:
                    exif = img.getexif()
                    sub, gps = exif.get_ifd(EXIF_IFD), exif.get_ifd(GPS_IFD)
    except Exception as exc:  # noqa: BLE001 - facts are extras: the decoder reports a broken file
        log.debug("no EXIF read from %s: %s", path, exc)
        return PhotoFacts()
    return facts_of(exif, sub, gps)


def facts_of(exif: Any, sub: Any, gps: Any) -> PhotoFacts:
    """The facts in a photo's main, EXIF and GPS IFDs (tag -> value mappings)."""
    taken = exif_time(sub.get(DATETIME_ORIGINAL), sub.get(OFFSET_TIME_ORIGINAL)) or \
        exif_time(sub.get(DATETIME_DIGITIZED), sub.get(OFFSET_TIME_ORIGINAL))
    lat = _degrees(gps.get(2), gps.get(1)) if gps else None
    lon = _degrees(gps.get(4), gps.get(3)) if gps else None
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
        lat = lon = None
    make, model = _text(exif.get(MAKE)), _text(exif.get(MODEL))
    camera = model if make and model.lower().startswith(make.split()[0].lower()) else f"{make} {model}".strip()
    return PhotoFacts(taken, lat, lon, camera[:200] or None)


def video_created(container: Any) -> int | None:
    """A video's ``creation_time`` (ISO 8601, UTC) from its container's metadata, as ns."""
    value = str((getattr(container, "metadata", None) or {}).get("creation_time", "")).strip()
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    if moment.year < 1971:  # 1904/1970 placeholders of cameras without a clock
        return None
    return int(moment.timestamp() * 1e9)


def video_taken(path: Path) -> int | None:
    """A video file's creation time (UTC ns), or None."""
    import av

    try:
        with open_regular(path) as handle, av.open(handle, mode="r", metadata_errors="ignore") as container:
            return video_created(container)
    except Exception as exc:  # noqa: BLE001 - the decoder reports a broken file
        log.debug("no creation time read from %s: %s", path, exc)
        return None
