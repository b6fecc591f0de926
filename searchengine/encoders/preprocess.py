"""Image preparation in NumPy, the same arithmetic as the torchvision transforms the models
were trained with (Resize shortest side, CenterCrop, ToTensor, Normalize), without torch."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

_RESAMPLE = {
    "bicubic": Image.Resampling.BICUBIC,
    "bilinear": Image.Resampling.BILINEAR,
    "nearest": Image.Resampling.NEAREST,
}


@dataclass(frozen=True)
class ImagePrep:
    """Resize the shorter side to ``resize``, crop the centre ``crop`` x ``crop``, scale to
    [0, 1], subtract ``mean`` and divide by ``std`` per channel; CHW float32 out."""

    resize: int
    crop: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    interpolation: str = "bicubic"

    def __call__(self, image: Image.Image) -> np.ndarray:
        if image.mode != "RGB":
            image = image.convert("RGB")
        w, h = image.size
        short, long = (w, h) if w <= h else (h, w)
        if short != self.resize:  # torchvision: the long side is truncated, not rounded
            new_long = int(self.resize * long / short)
            size = (self.resize, new_long) if w <= h else (new_long, self.resize)
            image = image.resize(size, _RESAMPLE[self.interpolation])
        w, h = image.size
        c = self.crop
        if w < c or h < c:  # torchvision pads small images with zeros before cropping
            canvas = Image.new("RGB", (max(w, c), max(h, c)))
            canvas.paste(image, ((max(w, c) - w) // 2, (max(h, c) - h) // 2))
            image, (w, h) = canvas, canvas.size
        top, left = int(round((h - c) / 2.0)), int(round((w - c) / 2.0))
        image = image.crop((left, top, left + c, top + c))
        scale = np.float32(1.0 / 255.0)
        pixels = np.asarray(image, dtype=np.float32) * scale
        normalised = (pixels - np.asarray(self.mean, np.float32)) / np.asarray(self.std, np.float32)
        return np.ascontiguousarray(normalised.transpose(2, 0, 1), dtype=np.float32)

    def to_dict(self) -> dict[str, object]:
        return {"resize": self.resize, "crop": self.crop, "mean": list(self.mean),
                "std": list(self.std), "interpolation": self.interpolation}

    @classmethod
    def from_dict(cls, data: dict) -> "ImagePrep":
        return cls(int(data["resize"]), int(data["crop"]), tuple(data["mean"]),  # type: ignore[arg-type]
                   tuple(data["std"]), str(data.get("interpolation", "bicubic")))  # type: ignore[arg-type]
