"""Decoding a video for the pipeline: its key frames, prepared for the image encoder with
their times, and its sound track's transcript windows. A silent video (no sound track, no
sidecar) is its frames alone; a video whose sound (or picture) track cannot be read is
indexed by the other, with a warning."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Callable

from searchengine.config import Settings
from searchengine.encoders.base import Encoder
from searchengine.errors import MediaDecodeError
from searchengine.media.video import key_frames, probe_video
from searchengine.media.pathnames import display_path
from searchengine.transcribe.segments import Segment, group_windows

if TYPE_CHECKING:
    from searchengine.pipeline.decode import Decoded

log = logging.getLogger(__name__)


def decode_video(out: "Decoded", settings: Settings, encoder: Callable[[], Encoder],
                 transcript: Callable[[], list[Segment]], sounds: Callable[[], None] = lambda: None) -> None:
    """Fill ``out`` (images, their frame spans, chunks, and with ``sounds()`` its sound
    events) for the video of ``out.work``."""
    f = out.work.found
    probe = probe_video(f.path)
    if not probe.has_video and not probe.has_audio and f.sidecar is None:
        raise MediaDecodeError(f"{display_path(f.path)}: no picture or sound track")
    has_sound = probe.has_audio or f.sidecar is not None
    if probe.has_video:
        enc = encoder()
        try:
            pick = key_frames(f.path, min_gap=settings.video_frame_gap, threshold=settings.video_scene_threshold,
                              max_frames=settings.video_max_frames, keyframe_gap=settings.video_keyframe_gap,
                              min_side=enc.input_side)
        except MediaDecodeError as exc:
            if not has_sound or _transient(exc):
                raise
            log.warning("%s; the video is indexed by its sound track alone", exc)
        else:
            t0 = time.perf_counter()
            out.images = [enc.prepare_image(k.image) for k in pick.frames]
            out.preprocess_seconds += time.perf_counter() - t0
            out.frame_spans = pick.spans()
            out.frames_decoded, out.frames_seconds, out.video_seconds = pick.decoded, pick.decode_seconds, pick.duration
    if has_sound:
        try:
            out.chunks = [(w.start, w.end, w.text) for w in group_windows(transcript())]
        except MediaDecodeError as exc:
            if not out.images or _transient(exc):
                raise  # nothing else to index, or perhaps a read error of the moment: retried
            log.warning("%s; the video is indexed by its pictures alone", exc)
    if probe.has_audio:
        sounds()


def _transient(exc: MediaDecodeError) -> bool:
    """A read error of the moment (I/O, permissions; as pipeline.decode): the file is tried
    again next run, not indexed by half."""
    cause = exc.__cause__
    return isinstance(cause, OSError) and cause.errno is not None and not isinstance(cause, MediaDecodeError)
