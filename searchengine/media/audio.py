"""Decoding recordings (audio files and the audio track of videos) with PyAV into 16 kHz
mono float32, the input of speech recognition. Bounded: at most ``MAX_AUDIO_SECONDS`` of
audio (some 700 MB as float32) and ``MAX_DECODE_SECONDS`` of wall-clock time per file."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from searchengine.errors import MediaDecodeError, MediaTooLargeError
from searchengine.media.regular import open_regular
from searchengine.media.pathnames import display_path

SAMPLE_RATE = 16000
MIN_SAMPLE_RATE = 4000  # decoded memory is at most 16000 / MIN_SAMPLE_RATE times the file's samples
MAX_AUDIO_SECONDS = 3 * 3600.0
MAX_DECODE_SECONDS = 900.0


def probe_duration(path: Path) -> float:
    """Seconds of audio, from the container's metadata (0.0 when unknown or unreadable)."""
    import av

    try:
        with open_regular(path) as handle, av.open(handle, mode="r", metadata_errors="ignore") as container:
            if not container.streams.audio:
                return 0.0
            stream = container.streams.audio[0]
            if stream.duration is not None and stream.time_base is not None:
                return max(0.0, float(stream.duration * stream.time_base))
            if container.duration is not None:
                return max(0.0, container.duration / 1_000_000)
    except Exception:
        return 0.0
    return 0.0


def decode_audio(path: Path, max_seconds: float = MAX_AUDIO_SECONDS,
                 max_decode_seconds: float = MAX_DECODE_SECONDS) -> np.ndarray:
    """The first audio track of ``path`` as 16 kHz mono float32, or MediaDecodeError
    (:class:`MediaTooLargeError` past ``max_seconds`` of audio or ``max_decode_seconds`` of
    decoding; the file is refused, not truncated, so its index entry never lies)."""
    import av

    name = display_path(path)
    limit = int(max_seconds * SAMPLE_RATE)
    deadline = time.monotonic() + max_decode_seconds
    parts: list[np.ndarray] = []
    total = 0
    try:
        with open_regular(path) as handle, av.open(handle, mode="r", metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise MediaDecodeError(f"{name}: no audio track")
            stream = container.streams.audio[0]
            declared = (float(stream.duration * stream.time_base)
                        if stream.duration is not None and stream.time_base is not None else 0.0)
            if declared > max_seconds:
                raise _too_long(name, max_seconds, declared)
            rate = stream.codec_context.sample_rate or stream.rate or 0
            if rate and rate < MIN_SAMPLE_RATE:
                # resampled to 16 kHz, each sample would become 16000/rate: a 10 KB file at 1 Hz
                # would take gigabytes; speech needs thousands of samples a second anyway
                raise MediaDecodeError(f"{name}: a sample rate of {rate} Hz is too low for speech "
                                       f"(at least {MIN_SAMPLE_RATE} Hz); not indexed")
            resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
            for frame in container.decode(stream):
                if frame.sample_rate and frame.sample_rate < MIN_SAMPLE_RATE:  # a rate changed mid-stream
                    raise MediaDecodeError(f"{name}: a sample rate of {frame.sample_rate} Hz is too low for speech")
                for out in resampler.resample(frame):
                    samples = out.to_ndarray().reshape(-1)
                    total += samples.size
                    parts.append(samples)
                if total > limit:
                    raise _too_long(name, max_seconds)
                if time.monotonic() > deadline:
                    raise MediaTooLargeError(
                        f"{name}: decoding took more than {max_decode_seconds:.0f} s; not indexed"
                    )
            for out in resampler.resample(None):
                parts.append(out.to_ndarray().reshape(-1))
    except MediaDecodeError:
        raise
    except MemoryError as exc:
        raise MediaTooLargeError(f"{name}: not enough memory to decode this recording") from exc
    except Exception as exc:  # av.error.* : invalid data, unsupported codec, truncated
        raise MediaDecodeError(f"{name}: cannot decode audio: {type(exc).__name__}: {exc}") from exc
    if not parts:
        raise MediaDecodeError(f"{name}: the audio track is empty")
    audio = np.concatenate(parts)
    parts.clear()
    if audio.size > limit:
        raise _too_long(name, max_seconds)
    if audio.size < SAMPLE_RATE // 10:
        raise MediaDecodeError(f"{name}: less than 0.1 s of audio")
    return audio.astype(np.float32) / np.float32(32768.0)


def _too_long(name: str, max_seconds: float, declared: float | None = None) -> MediaTooLargeError:
    said = f" (its header says {declared / 3600:.1f} h)" if declared else ""
    return MediaTooLargeError(
        f"{name}: longer than the limit of {max_seconds / 3600:.1f} h of audio{said}; not "
        "indexed (split the recording, or give it a sidecar transcript)"
    )
