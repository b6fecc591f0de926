"""Choosing the device: CUDA when present, unless told otherwise. Without an NVIDIA driver on
the machine, torch is not even imported to find that out."""

from __future__ import annotations

from pathlib import Path


def nvidia_driver_present() -> bool:
    return Path("/proc/driver/nvidia").exists() or Path("/dev/nvidia0").exists()


def resolve_device(device: str) -> str:
    if device == "auto":
        if not nvidia_driver_present():
            return "cpu"
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    return device
