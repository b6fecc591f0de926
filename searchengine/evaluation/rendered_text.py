"""Pictures with known text in them, for tests and the OCR benchmark: a phrase rendered
over a background (a real photo or a generated one) in a given font, size, angle and style,
with the box where it landed."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

# Fonts Debian ships (fonts-noto-cjk, fonts-wqy-zenhei, fonts-dejavu-core): (file, face
# index in a collection, name, whether it has Chinese glyphs).
FONT_CANDIDATES = (
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2, "Noto Sans CJK SC", True),
    ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", 2, "Noto Serif CJK SC", True),
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc", 2, "Noto Sans CJK SC Bold", True),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0, "WenQuanYi Zen Hei", True),
    ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 0, "DejaVu Sans", False),
    ("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf", 0, "DejaVu Serif", False),
    ("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", 0, "DejaVu Sans Bold", False),
)


@dataclass(frozen=True)
class Font:
    path: str
    index: int
    name: str
    chinese: bool

    def load(self, size: int) -> ImageFont.FreeTypeFont:
        return ImageFont.truetype(self.path, size, index=self.index)


def find_fonts(chinese: bool | None = None) -> list[Font]:
    """The fonts of ``FONT_CANDIDATES`` present on this system (``chinese=True``: those
    with Chinese glyphs)."""
    return [Font(*c) for c in FONT_CANDIDATES if Path(c[0]).is_file() and (chinese is None or c[3] == chinese)]


def background(seed: int, size: tuple[int, int] = (800, 600)) -> Image.Image:
    """A generated photo-like background: smooth colour gradients with noise."""
    rng = np.random.RandomState(seed)
    w, h = size
    corners = rng.rand(2, 2, 3) * 255
    small = Image.fromarray(corners.astype("uint8")).resize((w, h), Image.Resampling.BILINEAR)
    arr = np.asarray(small).astype(np.float32) + rng.normal(0, 12, (h, w, 3))
    return Image.fromarray(np.clip(arr, 0, 255).astype("uint8"))


def render(picture: Image.Image, text: str, font: Font, size: int, *, angle: float = 0.0,
           at: tuple[float, float] = (0.1, 0.1), plate: bool = True,
           colour: tuple[int, int, int] = (20, 20, 20),
           plate_colour: tuple[int, int, int] = (245, 245, 235)) -> tuple[Image.Image, tuple[float, float, float, float]]:
    """``picture`` with ``text`` drawn at ``at`` (fractions: top-left of the text), rotated
    by ``angle`` degrees, on a plate (a sign) or straight on the picture with an outline;
    returns the new picture and the text's box as fractions (x0, y0, x1, y1)."""
    face = font.load(size)
    left, top, right, bottom = (int(v) for v in face.getbbox(text))
    pad = max(4, size // 4)
    tw, th = right - left + 2 * pad, bottom - top + 2 * pad
    layer = Image.new("RGBA", (tw, th), (*plate_colour, 235) if plate else (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    stroke = 0 if plate else max(1, size // 18)
    draw.text((pad - left, pad - top), text, font=face, fill=(*colour, 255), stroke_width=stroke,
              stroke_fill=(255 - colour[0], 255 - colour[1], 255 - colour[2]))
    if angle:
        layer = layer.rotate(angle, expand=True, resample=Image.Resampling.BICUBIC)
    out = picture.convert("RGB").copy()
    x, y = int(at[0] * out.width), int(at[1] * out.height)
    x = max(0, min(x, out.width - layer.width))
    y = max(0, min(y, out.height - layer.height))
    out.paste(layer, (x, y), layer)
    w, h = out.size
    box = (x / w, y / h, min(1.0, (x + layer.width) / w), min(1.0, (y + layer.height) / h))
    return out, box


def fits(picture: Image.Image, text: str, font: Font, size: int, angle: float = 0.0) -> bool:
    """Whether the rendered text fits inside the picture with a margin."""
    left, top, right, bottom = font.load(size).getbbox(text)
    w, h = right - left + size // 2, bottom - top + size // 2
    a = math.radians(abs(angle))
    rw, rh = w * math.cos(a) + h * math.sin(a), w * math.sin(a) + h * math.cos(a)
    return rw < 0.92 * picture.width and rh < 0.9 * picture.height
