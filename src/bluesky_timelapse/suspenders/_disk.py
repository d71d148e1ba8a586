"""Low disk space: free-space thresholds, sizes for people, and the suspender."""

from __future__ import annotations

import math
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, Unpack

from ._base import PollingSuspender, SuspenderOptions

_DECIMAL_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}
_BINARY_UNITS = {"kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
_DECIMAL_NAMES = ("kB", "MB", "GB", "TB", "PB")
_BINARY_NAMES = ("KiB", "MiB", "GiB", "TiB", "PiB")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*|%)\s*$", re.IGNORECASE)


def format_size(nbytes: float, *, binary: bool = False) -> str:
    """Format a number of bytes for people: ``"1.2 GB"``, or ``"1.1 GiB"`` if ``binary``.

    Examples
    --------
    >>> format_size(1_234_567_890)
    '1.2 GB'
    >>> format_size(512)
    '512 B'
    """
    step, units = (1024, _BINARY_NAMES) if binary else (1000, _DECIMAL_NAMES)
    if abs(nbytes) < step:
        return f"{int(nbytes)} B"
    value = float(nbytes)
    for unit in units:
        value /= step
        if abs(value) < step or unit == units[-1]:
            break
    return f"{value:.1f} {unit}"


@dataclass(frozen=True)
class SpaceThreshold:
    """An amount of free space: a number of bytes, or a percentage of the filesystem.

    Build it with :meth:`parse`. Exactly one of ``nbytes`` and ``percent`` is set.

    Attributes
    ----------
    nbytes
        Bytes, > 0.
    percent
        Percent of the filesystem's size, above 0 and below 100.
    binary
        Whether it was given in binary units (MiB, GiB...): sizes are shown in them.
    """

    nbytes: int | None = None
    percent: float | None = None
    binary: bool = False

    ALLOWED = (
        "a number of bytes > 0, a size such as '5GB' or '500MiB' (units B, kB, MB, GB, TB, "
        "KiB, MiB, GiB, TiB) or a percentage of the filesystem such as '10%' "
        "(above 0% and below 100%)"
    )

    @classmethod
    def parse(cls, value: int | float | str, *, name: str = "min_free") -> SpaceThreshold:
        """Read ``5000000000``, ``"5GB"``, ``"500MiB"`` or ``"10%"``.

        Parameters
        ----------
        value
            The amount of free space.
        name
            The parameter's name, for the error message.

        Raises
        ------
        ValueError
            If ``value`` is none of the allowed forms.
        """
        if isinstance(value, int | float) and not isinstance(value, bool):
            if math.isfinite(value) and value > 0:
                return cls(nbytes=math.ceil(value))
        elif isinstance(value, str) and (match := _SIZE.match(value)):
            number, unit = float(match[1]), match[2].lower()
            if unit == "%":
                if 0 < number < 100:
                    return cls(percent=number)
            elif unit in _DECIMAL_UNITS or unit in _BINARY_UNITS or not unit:
                factor = _DECIMAL_UNITS.get(unit) or _BINARY_UNITS.get(unit) or 1
                if number * factor >= 1:
                    return cls(nbytes=math.ceil(number * factor), binary=unit in _BINARY_UNITS)
        raise ValueError(f"{name} {value!r} is invalid; allowed: {cls.ALLOWED}")

    def bytes_of(self, total: int) -> int:
        """The threshold in bytes on a filesystem of ``total`` bytes."""
        if self.percent is not None:
            return math.ceil(total * self.percent / 100)
        assert self.nbytes is not None
        return self.nbytes

    def scaled(self, factor: float) -> SpaceThreshold:
        """This threshold times ``factor`` (a percentage stays at most 100%)."""
        if self.percent is not None:
            return SpaceThreshold(percent=min(self.percent * factor, 100.0))
        assert self.nbytes is not None
        return SpaceThreshold(nbytes=math.ceil(self.nbytes * factor), binary=self.binary)

    def describe(self, total: int) -> str:
        """``"5.0 GB"``, or ``"10% (4.0 GB)"`` for a percentage of ``total`` bytes."""
        size = format_size(self.bytes_of(total), binary=self.binary)
        return size if self.percent is None else f"{self.percent:g}% ({size})"

    def __str__(self) -> str:
        if self.percent is not None:
            return f"{self.percent:g}%"
        assert self.nbytes is not None
        return format_size(self.nbytes, binary=self.binary)


class DiskUsage(Protocol):
    """What :func:`shutil.disk_usage` returns, as far as we need it."""

    @property
    def total(self) -> int:
        """Size of the filesystem in bytes."""

    @property
    def free(self) -> int:
        """Bytes free for the calling user."""


class SuspendLowDiskSpace(PollingSuspender):
    """Suspend while the filesystem holding ``path`` has too little free space.

    Suspends when free space drops below ``min_free``; resumes once it is at or
    above ``resume_free`` again. A path that does not exist yet is measured at its
    nearest existing parent; a filesystem that cannot be read (e.g. an unmounted
    disk) suspends too.

    Parameters
    ----------
    path
        A path on the filesystem to watch (where the frames go).
    min_free
        Suspend below this: bytes (``5_000_000_000``), a size (``"5GB"``,
        ``"500MiB"``), or a percentage of the filesystem (``"10%"``).
    resume_free
        Resume at or above this, in the same forms; >= ``min_free``. Default: 10%
        above ``min_free`` (``"5GB"`` -> 5.5 GB, ``"10%"`` -> 11%), so a plan does
        not flap on and off at the threshold.
    poll_interval
        Seconds between measurements, > 0.
    usage
        Measures a path; default :func:`shutil.disk_usage`. Anything returning an
        object with ``total`` and ``free`` bytes.
    **options
        ``sleep``, ``pre_plan``, ``post_plan``, ``tripped_message``, ``log``; see
        :class:`SuspenderOptions`.

    Raises
    ------
    ValueError
        If a threshold is invalid, or ``resume_free`` is below ``min_free``.
    OSError
        If the filesystem cannot be measured now.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        min_free: int | float | str,
        resume_free: int | float | str | None = None,
        poll_interval: float = 10.0,
        usage: Callable[[str], DiskUsage] = shutil.disk_usage,
        **options: Unpack[SuspenderOptions],
    ) -> None:
        self.path = os.fspath(path)
        self.min_free = SpaceThreshold.parse(min_free, name="min_free")
        self.resume_free = (
            self.min_free.scaled(1.1)
            if resume_free is None
            else SpaceThreshold.parse(resume_free, name="resume_free")
        )
        self._usage = usage
        total = usage(_nearest_existing(self.path)).total
        if self.resume_free.bytes_of(total) < self.min_free.bytes_of(total):
            raise ValueError(
                f"resume_free {resume_free!r} ({self.resume_free.describe(total)}) is below "
                f"min_free {min_free!r} ({self.min_free.describe(total)}); allowed: an amount "
                ">= min_free"
            )
        super().__init__(poll_interval=poll_interval, signal_name="free_space", **options)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.path!r}, min_free={str(self.min_free)!r}, "
            f"resume_free={str(self.resume_free)!r})"
        )

    def measure(self) -> DiskUsage | OSError:
        """The filesystem's usage, or the error that prevents measuring it."""
        try:
            return self._usage(_nearest_existing(self.path))
        except OSError as err:
            return err

    def _should_suspend(self, value: DiskUsage | OSError) -> bool:
        if isinstance(value, OSError):
            return True
        return value.free < self.min_free.bytes_of(value.total)

    def _should_resume(self, value: DiskUsage | OSError) -> bool:
        if isinstance(value, OSError):
            return False
        return value.free >= self.resume_free.bytes_of(value.total)

    def _suspend_reason(self, value: DiskUsage | OSError) -> str:
        if isinstance(value, OSError):
            return f"free space on {self.path} cannot be measured ({value.strerror or value})"
        free = format_size(value.free, binary=self.min_free.binary)
        return (
            f"free space on {self.path} is {free}, below the "
            f"{self.min_free.describe(value.total)} minimum"
        )

    def _resume_reason(self, value: DiskUsage) -> str:
        free = format_size(value.free, binary=self.min_free.binary)
        return (
            f"free space on {self.path} is {free}, back above "
            f"{self.resume_free.describe(value.total)}"
        )


def _nearest_existing(path: str) -> str:
    candidate = Path(path).absolute()
    while not candidate.exists() and candidate != candidate.parent:
        candidate = candidate.parent
    return str(candidate)
