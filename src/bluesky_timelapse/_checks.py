"""Validators every layer shares, with one wording for what is allowed."""

from __future__ import annotations

import math
from typing import Any


def check_seconds(name: str | None, value: Any, *, zero_allowed: bool = False) -> float:
    """``value`` as float seconds, if it is a finite number > 0 (>= 0 if ``zero_allowed``).

    Parameters
    ----------
    name
        What the value is, to name it in the message; None to start the message
        with the value (for a caller that names the field itself, e.g. pydantic).
    value
        The value to check; ``bool`` is refused although it is an ``int``.
    zero_allowed
        Whether 0 is allowed.

    Raises
    ------
    ValueError
        Naming ``name``, the bad value and what is allowed.
    """
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if not (number and math.isfinite(value) and (value >= 0 if zero_allowed else value > 0)):
        shown = repr(value) if name is None else f"{name} {value!r}"
        bound = ">= 0" if zero_allowed else "> 0"
        raise ValueError(f"{shown} is invalid; allowed: a finite number of seconds {bound}")
    return float(value)
