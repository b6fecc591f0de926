"""Decoding costs bounded whatever a file declares: a recording at 1 Hz (hours of "audio" in
a few kB) is refused before resampling could take gigabytes, and an all-intra video stops
decoding at the hard deadline (every frame a key frame: "key frames only" saves nothing)."""

from __future__ import annotations

import resource
import time
import wave

import numpy as np
import pytest

from searchengine.errors import MediaDecodeError
from searchengine.media.audio import decode_audio
from searchengine.media.video import HARD_DEADLINE_FACTOR, key_frames
from video_maker import make_video


def test_a_recording_at_1_hz_is_refused_quickly_and_cheaply(tmp_path):
    path = tmp_path / "slow.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(1)  # 10,000 samples: 2.8 hours, under the 3-hour limit
        w.writeframes((np.random.RandomState(0).randn(10_000) * 3000).astype("<i2").tobytes())
    before, t0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.perf_counter()
    with pytest.raises(MediaDecodeError, match="sample rate of 1 Hz"):
        decode_audio(path)
    assert time.perf_counter() - t0 < 2.0
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000  # kB: under 100 MB more


def test_an_all_intra_video_stops_at_the_hard_deadline(tmp_path):
    path = make_video(tmp_path / "intra.mp4", [(6.0, 1), (6.0, 2)], fps=10, codec="mpeg4", gop=1)
    full = key_frames(path, min_gap=0.1, threshold=0.01)
    assert full.decoded >= 100 and not full.truncated
    cut = key_frames(path, min_gap=0.1, threshold=0.01, max_decode_seconds=1e-4)
    assert cut.truncated and cut.decoded <= 3 and len(cut.frames) >= 1, (cut.decoded, HARD_DEADLINE_FACTOR)
