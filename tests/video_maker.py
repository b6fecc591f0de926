"""Small videos made with PyAV at test time: scenes of coloured blocks that change at known
times, optionally moving, optionally with a sound track (a tone, or given samples)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Sequence

import av
import numpy as np
from PIL import Image


def scene_picture(seed: int, size: tuple[int, int]) -> Image.Image:
    """Scene ``seed``'s picture: a 4x4 grid of random colours, scaled up (deterministic)."""
    rng = np.random.RandomState(seed)
    small = (rng.rand(4, 4, 3) * 255).astype("uint8")
    return Image.fromarray(small).resize(size, Image.NEAREST)


def make_video(path: Path, scenes: Sequence[tuple[float, int | Image.Image]], *, size: tuple[int, int] = (160, 96),
               fps: int = 10, codec: str = "libx264", gop: int | None = None, motion: float = 0.0,
               audio: np.ndarray | None = None, tone: bool = False, sample_rate: int = 16000,
               metadata: dict[str, str] | None = None) -> Path:
    """A video of ``scenes``: (seconds, seed or picture) each, one after the other. ``gop``: frames
    between key frames (None: the encoder's default, with a key frame at each cut);
    ``motion``: pixels a second the picture scrolls; ``audio`` (mono float32 at
    ``sample_rate``) or ``tone`` adds a sound track; ``metadata``: the container's tags
    (e.g. ``creation_time``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    container = av.open(str(path), "w")
    container.metadata.update(metadata or {})
    video = container.add_stream(codec, rate=fps)
    video.width, video.height, video.pix_fmt = size[0], size[1], "yuv420p"
    if codec == "libx264":
        video.options = {"preset": "veryfast", "crf": "23", **({"g": str(gop)} if gop else {})}
    elif gop:
        video.codec_context.gop_size = gop
    sound = None
    total = sum(s for s, _ in scenes)
    if audio is None and tone:
        t = np.arange(int(total * sample_rate)) / sample_rate
        audio = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    if audio is not None:
        sound = container.add_stream("libopus" if path.suffix == ".webm" else "aac", rate=sample_rate)
        sound.layout = "mono"
    n = 0
    for seconds, seed in scenes:
        picture = seed.convert("RGB").resize(size) if isinstance(seed, Image.Image) else scene_picture(seed, size)
        base = np.asarray(picture)
        for i in range(int(round(seconds * fps))):
            shifted = np.roll(base, int(i / fps * motion), axis=1) if motion else base
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(shifted), format="rgb24")
            frame.pts = n
            frame.time_base = Fraction(1, fps)
            n += 1
            for packet in video.encode(frame):
                container.mux(packet)
    for packet in video.encode(None):
        container.mux(packet)
    if sound is not None and audio is not None:
        pcm = (np.clip(audio, -1, 1) * 32767).astype(np.int16)
        step = 1024
        for i in range(0, len(pcm), step):
            frame = av.AudioFrame.from_ndarray(pcm[None, i : i + step], format="s16", layout="mono")
            frame.sample_rate = sample_rate
            frame.pts = i
            for packet in sound.encode(frame):
                container.mux(packet)
        for packet in sound.encode(None):
            container.mux(packet)
    container.close()
    return path
