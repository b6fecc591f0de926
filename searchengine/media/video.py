"""The picture track of videos: key frames picked with PyAV at a bounded cost.

Cost first. The packets of a group of pictures (a GOP: a key frame and the frames that
depend on it) are read without decoding, and the GOP is decoded only as far as needed:

- a short GOP (up to ``keyframe_gap`` seconds) is sampled by its key frame alone. Encoders
  put a key frame at every scene cut (x264/x265/VP9 "scenecut") and at least every few
  seconds, so key frames alone see every scene that lasts; decoding them is some hundred
  times faster than playing the video;
- a longer GOP (a static camera, a screen recording, an encoder without scene detection)
  is decoded in full and sampled every ``SAMPLE_EVERY`` seconds, to find the scene changes
  inside it;
- past ``max_decode_seconds`` of decoding, every GOP is sampled by its key frame alone
  (the cost stays bounded; a warning says so).

Each sampled frame is reduced to a 16x16 colour thumbnail (by the scaler, from the decoded
frame, no full-size RGB copy). A frame is kept when it is at least ``min_gap`` seconds after
the last kept one, differs from that one by at least ``threshold`` (a scene change: mean
absolute difference of the thumbnails, 0..1) and from every frame kept before by at least
half of it (near-duplicates - a cut back to a shot already seen - are dropped). The first
frame is always kept. At most ``max_frames`` per video: for a long video the gap grows to
``duration / max_frames``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
from PIL import Image

from searchengine.errors import MediaDecodeError, MediaTooLargeError
from searchengine.media.regular import open_regular
from searchengine.media.pathnames import display_path

log = logging.getLogger(__name__)

SAMPLE_EVERY = 0.2  # seconds between frames compared, inside a GOP decoded in full
THUMB = 16  # side of the thumbnails compared
MAX_GOP_PACKETS = 900  # a GOP longer than this is decoded as it comes (bounds the buffer)
MAX_GOP_BYTES = 64 << 20
MAX_DECODE_SECONDS = 900.0
HARD_DEADLINE_FACTOR = 2  # decoding stops at this many times max_decode_seconds


@dataclass(frozen=True)
class VideoProbe:
    """What a container holds: a picture track, a sound track, and how long it lasts."""

    has_video: bool
    has_audio: bool
    duration: float  # seconds; 0.0 when unknown


@dataclass(frozen=True)
class KeyFrame:
    time: float  # seconds from the start of the video
    image: Image.Image  # RGB, its shorter side about ``min_side``


@dataclass
class FramePick:
    """The key frames of one video and what finding them cost."""

    frames: list[KeyFrame] = field(default_factory=list)
    duration: float = 0.0  # seconds of video (from the header, else the last frame's time)
    decoded: int = 0  # frames the decoder produced
    decode_seconds: float = 0.0  # wall-clock time of demuxing and decoding
    full_gops: int = 0  # GOPs decoded in full
    key_gops: int = 0  # GOPs sampled by their key frame alone
    truncated: bool = False  # max_frames reached, or the track damaged, before the end

    @property
    def frames_per_second(self) -> float:
        """Decoded frames per second of decoding."""
        return self.decoded / self.decode_seconds if self.decode_seconds > 0 else 0.0

    def spans(self) -> list[tuple[float, float]]:
        """(start, end) of each key frame: until the next one, the last until the end."""
        times = [f.time for f in self.frames]
        ends = times[1:] + [max(self.duration, times[-1] if times else 0.0)]
        return [(s, max(s, e)) for s, e in zip(times, ends)]


def probe_video(path: Path) -> VideoProbe:
    """The tracks of ``path`` (MediaDecodeError when it is not a readable container)."""
    import av

    try:
        with open_regular(path) as handle, av.open(handle, mode="r", metadata_errors="ignore") as container:
            return VideoProbe(bool(container.streams.video), bool(container.streams.audio), _duration(container))
    except MediaDecodeError:
        raise
    except Exception as exc:
        raise MediaDecodeError(f"{display_path(path)}: cannot read video: {type(exc).__name__}: {exc}") from exc


def _duration(container: Any) -> float:
    """Seconds of the picture track (else of the container) from the header; 0.0 if unknown."""
    video = container.streams.video
    if video and video[0].duration is not None and video[0].time_base is not None:
        return max(0.0, float(video[0].duration * video[0].time_base))
    return max(0.0, container.duration / 1_000_000) if container.duration is not None else 0.0


def key_frames(path: Path, *, min_gap: float = 2.0, threshold: float = 0.1, max_frames: int = 300,
               keyframe_gap: float = 4.0, min_side: int | None = 224,
               max_decode_seconds: float = MAX_DECODE_SECONDS) -> FramePick:
    """The key frames of the first picture track of ``path`` (see the module's doc).
    ``min_side``: kept frames are scaled so that their shorter side is this (None: as
    decoded). Raises MediaDecodeError when there is no picture track or it cannot be read."""
    import av

    name = display_path(path)
    pick = FramePick()
    t0 = time.perf_counter()
    try:
        with open_regular(path) as handle, av.open(handle, mode="r", metadata_errors="ignore") as container:
            if not container.streams.video:
                raise MediaDecodeError(f"{name}: no picture track")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            base = stream.time_base
            offset = float(stream.start_time * base) if stream.start_time is not None and base is not None else 0.0
            pick.duration = _duration(container)
            gap = max(min_gap, pick.duration / max_frames if max_frames > 0 else min_gap)
            chooser = _Chooser(gap, threshold, max_frames, min_side)
            deadline = time.monotonic() + max_decode_seconds
            # past the deadline only key frames are decoded; an all-intra video is all key
            # frames, so decoding stops for good at HARD_DEADLINE_FACTOR times the deadline
            hard_deadline = time.monotonic() + HARD_DEADLINE_FACTOR * max_decode_seconds
            warned = False
            try:
                for frame in _frames(stream, pick, keyframe_gap, lambda: time.monotonic() > deadline):
                    if not warned and time.monotonic() > deadline:
                        log.warning("%s: decoding took more than %.0f s; the rest of the video is sampled "
                                    "at its key frames only", name, max_decode_seconds)
                        warned = True
                    pick.decoded += 1
                    if chooser.kept and time.monotonic() > hard_deadline:  # the first frame always
                        pick.truncated = True
                        log.warning("%s: decoding took more than %.0f s even at key frames only; the "
                                    "rest of the video is not read", name, HARD_DEADLINE_FACTOR * max_decode_seconds)
                        break
                    if frame.pts is None or base is None:
                        continue
                    if not chooser.offer(frame, max(0.0, float(frame.pts * base) - offset)):
                        pick.truncated = True
                        log.warning("%s: %d key frames reached; the rest of the video has none", name, max_frames)
                        break
            except (MemoryError, OSError):
                raise
            except Exception as exc:  # damaged further on: what was read before is kept
                if not chooser.kept:
                    raise
                pick.truncated = True
                log.warning("%s: the picture track cannot be read past %.1f s (%s: %s); its key frames "
                            "up to there are kept", name, chooser.kept[-1].time, type(exc).__name__, exc)
            pick.frames = chooser.kept
    except MediaDecodeError:
        raise
    except MemoryError as exc:
        raise MediaTooLargeError(f"{name}: not enough memory to decode this video") from exc
    except Exception as exc:  # av.error.*: invalid data, unsupported codec, truncated
        raise MediaDecodeError(f"{name}: cannot decode video: {type(exc).__name__}: {exc}") from exc
    pick.decode_seconds = time.perf_counter() - t0
    if not pick.frames:
        raise MediaDecodeError(f"{name}: the picture track has no frame that can be decoded")
    pick.duration = max(pick.duration, pick.frames[-1].time)
    log.debug("%s: %d key frames from %d decoded frames (%.0f frames/s; %d GOPs in full, %d by key frame)",
              name, len(pick.frames), pick.decoded, pick.frames_per_second, pick.full_gops, pick.key_gops)
    return pick


def _frames(stream: Any, pick: FramePick, keyframe_gap: float, late: Any) -> Iterator[Any]:
    """Decoded frames of ``stream``: of each GOP its key frame alone, or all of them when the
    GOP lasts more than ``keyframe_gap`` seconds (or is too big to hold back)."""
    container = stream.container
    codec = stream.codec_context
    base = float(stream.time_base) if stream.time_base is not None else 0.0
    gop: list[Any] = []
    gop_bytes = 0
    mode = "hold"  # hold the GOP's packets | "stream": decode them as they come

    def when(packet: Any) -> float | None:
        stamp = packet.pts if packet.pts is not None else packet.dts
        return stamp * base if stamp is not None else None

    def decode(packet: Any) -> Iterator[Any]:
        try:
            yield from codec.decode(packet)
        except Exception as exc:  # a damaged packet (or a reference skipped): go on
            if packet is not None:
                log.debug("skipping a packet that does not decode: %s", exc)

    def flush(next_start: float | None) -> Iterator[Any]:
        start = when(gop[0])
        long = (start is None or next_start is None) or next_start - start > keyframe_gap
        full = long and not late()
        pick.full_gops += full
        pick.key_gops += not full
        # All packets go to the decoder (it keeps the timestamps right); in a GOP sampled by
        # its key frame, the decoder skips the others without decoding them.
        codec.skip_frame = "DEFAULT" if full else "NONKEY"
        for p in gop:
            yield from decode(p)

    for packet in container.demux(stream):
        if packet.size == 0:  # the demuxer's end marker
            continue
        if packet.is_keyframe:
            if gop:
                yield from flush(when(packet))
            gop, gop_bytes, mode = [packet], packet.size, "hold"
        elif mode == "stream" or not gop:  # an over-long GOP, or no key frame yet (a damaged start)
            mode = "stream"
            yield from decode(packet)
        elif mode == "hold":
            gop.append(packet)
            gop_bytes += packet.size
            if len(gop) > MAX_GOP_PACKETS or gop_bytes > MAX_GOP_BYTES:
                full = not late()  # else its key frame only, up to the next key frame
                pick.full_gops += full
                pick.key_gops += not full
                codec.skip_frame = "DEFAULT" if full else "NONKEY"
                for p in gop:
                    yield from decode(p)
                gop, mode = [], "stream"
    if gop:  # the last GOP: it lasts until its last packet
        yield from flush(when(gop[-1]) if len(gop) > 1 else when(gop[0]))
    yield from decode(None)


class _Chooser:
    """Keeps frames at scene changes, at most one every ``gap`` seconds (see the module)."""

    def __init__(self, gap: float, threshold: float, max_frames: int, min_side: int | None):
        self.gap, self.threshold, self.max_frames, self.min_side = gap, threshold, max_frames, min_side
        self.kept: list[KeyFrame] = []
        self._thumbs: list[np.ndarray] = []
        self._next_look = 0.0

    def offer(self, frame: Any, t: float) -> bool:
        """Consider ``frame`` at ``t`` seconds; False when no more may be kept."""
        if self.kept and (t < self.kept[-1].time + self.gap or (t < self._next_look and not frame.key_frame)):
            return True  # too soon after the last kept; or sampled a moment ago (key frames always count)
        self._next_look = t + SAMPLE_EVERY
        thumb = frame.reformat(width=THUMB, height=THUMB, format="rgb24", interpolation="AREA").to_ndarray()
        thumb = thumb.astype(np.float32) / 255.0
        if self._thumbs:
            if float(np.abs(thumb - self._thumbs[-1]).mean()) < self.threshold:
                return True
            earlier = np.abs(np.stack(self._thumbs[:-1]) - thumb).mean(axis=(1, 2, 3)) if len(self._thumbs) > 1 else ()
            if len(earlier) and float(np.min(earlier)) < self.threshold / 2:
                return True
            if len(self.kept) >= self.max_frames:
                return False
        self.kept.append(KeyFrame(t, _picture(frame, self.min_side)))
        self._thumbs.append(thumb)
        return True


def _picture(frame: Any, min_side: int | None) -> Image.Image:
    """The frame as RGB, scaled by the decoder's scaler so that its shorter side is ``min_side``."""
    w, h = frame.width, frame.height
    if min_side and min(w, h) > min_side:
        scale = min_side / min(w, h)
        w, h = max(1, round(w * scale)), max(1, round(h * scale))
        return frame.reformat(width=w, height=h, format="rgb24", interpolation="AREA").to_image()
    return frame.to_image()
