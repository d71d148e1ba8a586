"""How a timelapse's frames map to 8 bits, decided once for the whole timelapse.

A video whose contrast is recomputed per frame flickers; :class:`Tone` fits one
mapping (a fixed range, or percentiles over a sample of frames spread over the
timelapse) and :class:`ToneMap` applies it to every frame alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import xarray as xr

from ._frames import Unreadable, read


@dataclass(frozen=True)
class ToneMap:
    """``low`` maps to 0, ``high`` to 255, linearly; outside is clipped."""

    low: float
    high: float

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        """``pixels`` as ``uint8`` (NaN becomes 0)."""
        if pixels.dtype == np.uint8 and (self.low, self.high) == (0.0, 255.0):
            return pixels
        scaled = (np.asarray(pixels, dtype=np.float32) - self.low) * (
            255.0 / (self.high - self.low)
        )
        return np.nan_to_num(np.clip(scaled, 0.0, 255.0), nan=0.0).astype(np.uint8)


@dataclass(frozen=True)
class Tone:
    """How frames map to 8-bit: a fixed range, or percentiles fitted once over a sample.

    Parameters
    ----------
    low, high
        The fixed range: ``low`` is black, ``high`` white. Give both or neither.
        Neither: ``uint8`` frames are kept as they are, others are fitted from
        ``percentiles``.
    percentiles
        The (dark, bright) percentiles of the sample's pixels that become 0 and 255.
    sample
        How many frames, spread evenly over the timelapse, the percentiles are
        computed on.
    """

    low: float | None = None
    high: float | None = None
    percentiles: tuple[float, float] = (0.5, 99.5)
    sample: int = 16

    def __post_init__(self) -> None:
        if (self.low is None) != (self.high is None):
            raise ValueError(
                f"low={self.low!r}, high={self.high!r}: give both ends of the range or neither"
            )
        if (
            self.low is not None
            and self.high is not None
            and not (math.isfinite(self.low) and math.isfinite(self.high) and self.low < self.high)
        ):
            raise ValueError(
                f"range {self.low!r}..{self.high!r} is not allowed; allowed: finite numbers, "
                "low < high"
            )
        dark, bright = self.percentiles
        if not 0 <= dark < bright <= 100:
            raise ValueError(
                f"percentiles {self.percentiles!r} are not allowed; allowed: 0 <= dark < "
                "bright <= 100"
            )
        if isinstance(self.sample, bool) or not isinstance(self.sample, int) or self.sample < 1:
            raise ValueError(
                f"sample {self.sample!r} is not allowed; allowed: a whole number >= 1"
            )

    def fit(self, frames: xr.DataArray, unreadable: Unreadable = "raise") -> ToneMap:
        """The mapping for ``frames`` (reads at most ``sample`` of them).

        With ``unreadable="skip"`` a sampled frame that cannot be read is left out of
        the sample.
        """
        if self.low is not None and self.high is not None:
            return ToneMap(float(self.low), float(self.high))
        if frames.dtype == np.uint8:
            return ToneMap(0.0, 255.0)
        count = frames.sizes["slot"]
        spread = np.unique(np.linspace(0, count - 1, min(self.sample, count)).round())
        sampled = read(frames, [int(position) for position in spread], unreadable)
        if not sampled:
            raise ValueError(
                f"none of the {len(spread)} frames sampled to fit the tone could be read"
            )
        pixels = np.asarray([image for _, image in sampled], dtype=np.float64)
        low, high = np.nanpercentile(pixels, self.percentiles)
        if not np.isfinite(low) or not np.isfinite(high):
            return ToneMap(0.0, 1.0)
        return ToneMap(float(low), float(high) if high > low else float(low) + 1.0)
