"""The drift-free grid of slot offsets that :class:`Every` and :class:`Daily` share."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from typing import NamedTuple


class _Grid(NamedTuple):
    """Offsets ``round(k * interval)`` in whole microseconds, exact and drift-free.

    The interval is ``numerator / denominator`` microseconds, at least 1; offsets
    round half to even, as :func:`round` does.
    """

    numerator: int
    denominator: int

    def offset(self, k: int) -> int:
        """Return ``round(k * interval)`` in microseconds."""
        quotient, remainder = divmod(k * self.numerator, self.denominator)
        twice = 2 * remainder
        if twice > self.denominator or (twice == self.denominator and quotient % 2):
            quotient += 1
        return quotient

    def first_at_least(self, target: int) -> int:
        """Return the smallest ``k >= 0`` whose offset is at least ``target``."""
        if target <= 0:
            return 0
        k = max(0, target * self.denominator // self.numerator - 1)
        while self.offset(k) < target:  # at most a few steps: the interval is >= 1 us
            k += 1
        return k


@lru_cache(maxsize=64)
def _grid(interval: float) -> _Grid:
    numerator, denominator = interval.as_integer_ratio()
    return _Grid(numerator * 10**6, denominator)


def _microseconds(delta: timedelta) -> int:
    return (delta.days * 86400 + delta.seconds) * 10**6 + delta.microseconds
