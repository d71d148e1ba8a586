"""Frames as 8-bit pictures, and text burned into them."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ._frames import as_rgb_or_gray
from ._tone import ToneMap


def picture(pixels: np.ndarray, tone: ToneMap) -> Image.Image:
    """A frame as a Pillow image: ``L`` for mono, ``RGB`` for colour."""
    eight_bit = tone(as_rgb_or_gray(pixels))
    return Image.fromarray(eight_bit, mode="L" if eight_bit.ndim == 2 else "RGB")


def burn_in(image: Image.Image, text: str, *, size: int | None = None) -> Image.Image:
    """``image`` with ``text`` at its bottom left, white on a dark band (legible on any sky)."""
    if not text:
        return image
    size = size or max(10, image.height // 24)
    font = ImageFont.load_default(size=size)
    draw = ImageDraw.Draw(image)
    _, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    margin = max(2, size // 4)
    band_top = image.height - (bottom - top) - 2 * margin
    dark = 0 if image.mode == "L" else (0, 0, 0)
    white = 255 if image.mode == "L" else (255, 255, 255)
    draw.rectangle((0, band_top, min(image.width, right + 2 * margin), image.height), fill=dark)
    draw.text((margin, band_top + margin - top), text, font=font, fill=white)
    return image
