"""YAMNet's input in NumPy: log-mel patches of 16 kHz mono audio.

25 ms Hann window (400 samples, centred in a 512-point FFT), 10 ms hop, magnitude spectrum,
64 HTK mel bands from 125 to 7,500 Hz (triangular, unnormalised), ``log(mel + 1e-6)``, then
patches of 96 frames (0.96 s) every 48 frames (0.48 s). The same as torchaudio's
``MelSpectrogram(n_fft=512, win_length=400, hop_length=160, f_min=125, f_max=7500,
n_mels=64, power=1, center=False, mel_scale="htk", norm=None)``, which the model was
prepared with, without importing torch.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

SAMPLE_RATE = 16000
WINDOW = 400  # 25 ms
HOP = 160  # 10 ms
N_FFT = 512
N_MELS = 64
F_MIN, F_MAX = 125.0, 7500.0
LOG_OFFSET = 1e-6
PATCH_FRAMES = 96  # 0.96 s
PATCH_HOP_FRAMES = 48  # 0.48 s
PATCH_SECONDS = PATCH_FRAMES * HOP / SAMPLE_RATE
PATCH_HOP_SECONDS = PATCH_HOP_FRAMES * HOP / SAMPLE_RATE
# samples that make one patch: the last frame's window ends N_FFT after its start
PATCH_SAMPLES = (PATCH_FRAMES - 1) * HOP + N_FFT
FRAMES_AT_ONCE = 6000  # frames per FFT block (a minute of audio): bounds memory on long files


def _hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


@lru_cache(maxsize=1)
def mel_filterbank() -> np.ndarray:
    """(N_FFT // 2 + 1, N_MELS) triangular HTK filters, as torchaudio's ``melscale_fbanks``."""
    freqs = np.linspace(0.0, SAMPLE_RATE / 2, N_FFT // 2 + 1)
    points = _mel_to_hz(np.linspace(_hz_to_mel(F_MIN), _hz_to_mel(F_MAX), N_MELS + 2))
    widths = np.diff(points)
    slopes = points[None, :] - freqs[:, None]
    down = -slopes[:, :-2] / widths[:-1]
    up = slopes[:, 2:] / widths[1:]
    return np.maximum(0.0, np.minimum(down, up)).astype(np.float32)


@lru_cache(maxsize=1)
def _window() -> np.ndarray:
    """A periodic Hann window of WINDOW samples, zero-padded on both sides to N_FFT."""
    hann = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(WINDOW) / WINDOW)
    left = (N_FFT - WINDOW) // 2
    out = np.zeros(N_FFT, dtype=np.float32)
    out[left : left + WINDOW] = hann
    return out


def log_mel(audio: np.ndarray) -> np.ndarray:
    """(frames, 64) log-mel spectrogram of 16 kHz mono float audio (no centre padding)."""
    audio = np.asarray(audio, dtype=np.float32).reshape(-1)
    if audio.size < N_FFT:
        audio = np.pad(audio, (0, N_FFT - audio.size))
    n_frames = 1 + (audio.size - N_FFT) // HOP
    frames = np.lib.stride_tricks.sliding_window_view(audio, N_FFT)[::HOP][:n_frames]
    window, bank = _window(), mel_filterbank()
    out = np.empty((n_frames, N_MELS), dtype=np.float32)
    for i in range(0, n_frames, FRAMES_AT_ONCE):
        block = frames[i : i + FRAMES_AT_ONCE] * window
        magnitude = np.abs(np.fft.rfft(block, n=N_FFT, axis=1)).astype(np.float32)
        out[i : i + len(block)] = np.log(magnitude @ bank + LOG_OFFSET)
    return out


def patches(audio: np.ndarray) -> np.ndarray:
    """(N, 1, 96, 64) float32 patches; patch ``i`` covers seconds [0.48 i, 0.48 i + 0.96).
    Audio shorter than one patch is padded with silence to one."""
    audio = np.asarray(audio, dtype=np.float32).reshape(-1)
    if audio.size < PATCH_SAMPLES:
        audio = np.pad(audio, (0, PATCH_SAMPLES - audio.size))
    mel = log_mel(audio)
    starts = range(0, mel.shape[0] - PATCH_FRAMES + 1, PATCH_HOP_FRAMES)
    view = np.lib.stride_tricks.sliding_window_view(mel, (PATCH_FRAMES, N_MELS))[:, 0]
    return np.ascontiguousarray(view[list(starts)][:, None])


def patch_start(i: int) -> float:
    """The second patch ``i`` starts at."""
    return i * PATCH_HOP_SECONDS
