"""Facts about the machine, shared by the benchmark scripts."""

from __future__ import annotations

import os
import shutil
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
