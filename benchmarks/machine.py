"""Facts about the machine and the table helpers, shared by the benchmark scripts."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version


def package_version(name: str) -> str:
    """The installed version of distribution ``name``, or ``"?"``."""
    try:
        return version(name)
    except PackageNotFoundError:
        return "?"


def filesystem_of(path: str) -> str:
    """Describe the filesystem holding ``path``, like ``df -T``, from /proc/mounts."""
    real = os.path.realpath(path)
    best: tuple[str, str, str, str] | None = None
    try:
        with open("/proc/mounts") as mounts:
            for line in mounts:
                device, mount, fstype, options, *_ = line.split()
                mount = mount.replace("\\040", " ")
                inside = real == mount or real.startswith(mount.rstrip("/") + "/")
                if inside and (best is None or len(mount) >= len(best[1])):
                    best = (device, mount, fstype, options)
    except OSError:
        pass
    free_gb = shutil.disk_usage(real).free / 1e9
    if best is None:
        return f"{real} ({free_gb:.0f} GB free; filesystem unknown)"
    device, mount, fstype, options = best
    return f"{real}: {fstype} on {device} mounted at {mount} ({options}), {free_gb:.0f} GB free"


def percentile(values: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile of ``values``, linear between closest ranks."""
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def aligned(rows: Sequence[Sequence[str]], text_columns: int) -> list[str]:
    """Lines of a table: the first ``text_columns`` left-aligned, the rest right-aligned,
    a rule under the first row (the header)."""
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [
            cell.ljust(width) for cell, width in zip(row[:text_columns], widths, strict=False)
        ]
        cells += [
            cell.rjust(width)
            for cell, width in zip(row[text_columns:], widths[text_columns:], strict=True)
        ]
        lines.append("  ".join(cells))
    lines.insert(1, "-" * len(lines[0]))
    return lines
