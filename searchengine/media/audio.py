"""Decoding recordings (audio files and the audio track of videos) with PyAV into 16 kHz
mono float32, the input of speech recognition."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from searchengine.errors import MediaDecodeError

SAMPLE_RATE = 16000


def probe_duration(path: Path) -> float:
    """Seconds of audio, from the container's metadata (0.0 when unknown)."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                return 0.0
            stream = container.streams.audio[0]
            if stream.duration is not None and stream.time_base is not None:
                return float(stream.duration * stream.time_base)
            if container.duration is not None:
                return container.duration / 1_000_000
    except Exception:
        return 0.0
    return 0.0


def decode_audio(path: Path) -> np.ndarray:
    """The first audio track of ``path`` as 16 kHz mono float32, or MediaDecodeError."""
    import av

    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise MediaDecodeError(f"{path}: no audio track")
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
            parts: list[np.ndarray] = []
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    parts.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):
                parts.append(out.to_ndarray().reshape(-1))
    except MediaDecodeError:
        raise
    except Exception as exc:  # av.error.* : invalid data, unsupported codec, truncated
        raise MediaDecodeError(f"{path}: cannot decode audio: {exc}") from exc
    if not parts:
        raise MediaDecodeError(f"{path}: the audio track is empty")
    audio = np.concatenate(parts).astype(np.float32) / 32768.0
    if audio.size < SAMPLE_RATE // 10:
        raise MediaDecodeError(f"{path}: less than 0.1 s of audio")
    return audio
