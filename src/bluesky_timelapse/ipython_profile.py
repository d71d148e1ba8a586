"""The IPython profile shipped with the package, and its installation.

The profile's startup files live in the repository's
``profiles/profile_timelapse/startup``, where ``ipython
--profile-dir=profiles/profile_timelapse`` runs them from a clone; the wheel
ships a copy inside the package (``bluesky_timelapse/_profile/startup``).
:func:`install_profile` copies them into an IPython directory, where ``ipython
--profile=timelapse`` runs them.
"""

from __future__ import annotations

import os
import shutil
from importlib.resources import as_file, files
from importlib.resources.abc import Traversable
from pathlib import Path

__all__ = ["DEFAULT_PROFILE_NAME", "default_ipython_dir", "install_profile", "profile_files"]

DEFAULT_PROFILE_NAME = "timelapse"
"""The profile's name: ``ipython --profile=timelapse``."""

_SHIPPED = ("_profile", "startup")
"""Where in the package the wheel puts the startup files (pyproject's force-include)."""

_CLONE = ("profiles", "profile_timelapse", "startup")
"""Where in a clone, beside ``src/``, the startup files are: an editable install runs the
package from ``src/bluesky_timelapse``, beside which the wheel's copy is not."""


def default_ipython_dir() -> Path:
    """``$IPYTHONDIR``, else ``~/.ipython``, as IPython itself chooses."""
    override = os.environ.get("IPYTHONDIR")
    return Path(override).expanduser() if override else Path.home() / ".ipython"


def _startup() -> Traversable:
    """The profile's ``startup`` directory: the wheel's copy, else the clone's."""
    package = files("bluesky_timelapse")
    shipped = package.joinpath(*_SHIPPED)
    if shipped.is_dir():
        return shipped
    clone = Path(str(package)).resolve().parents[1].joinpath(*_CLONE)
    if clone.is_dir():
        return clone
    raise FileNotFoundError(
        f"the profile's startup files are neither in the package ({shipped}) nor in a clone "
        f"({clone}); reinstall bluesky-timelapse"
    )


def profile_files() -> list[str]:
    """The names of the files in the shipped profile's ``startup`` directory, sorted."""
    return sorted(item.name for item in _startup().iterdir() if item.is_file())


def install_profile(
    ipython_dir: Path | str | None = None,
    *,
    name: str = DEFAULT_PROFILE_NAME,
    force: bool = False,
) -> list[Path]:
    """Copy the profile into ``<ipython_dir>/profile_<name>/startup``.

    Parameters
    ----------
    ipython_dir
        The IPython directory; default :func:`default_ipython_dir`.
    name
        The profile's name (letters, digits, ``_``, ``-``, ``.``).
    force
        Overwrite files that exist already; without it nothing is written if any
        of them exists.

    Returns
    -------
    list of Path
        The files written.

    Raises
    ------
    ValueError
        If ``name`` is not a valid profile name.
    FileExistsError
        If a file to write exists and ``force`` is false; the message names it.
    """
    if not name or not all(c.isalnum() or c in "_-." for c in name) or name.startswith("."):
        raise ValueError(
            f"profile name {name!r} is invalid; allowed: letters, digits, '_', '-' and '.', "
            "not starting with '.'"
        )
    directory = Path(ipython_dir if ipython_dir is not None else default_ipython_dir())
    startup = directory.expanduser() / f"profile_{name}" / "startup"
    names = profile_files()
    if not force:
        existing = [startup / file for file in names if (startup / file).exists()]
        if existing:
            raise FileExistsError(
                f"{existing[0]} exists already"
                + (f" (and {len(existing) - 1} more profile files)" if len(existing) > 1 else "")
                + "; nothing was written. Use --force to overwrite, or another --name"
            )
    startup.mkdir(parents=True, exist_ok=True)
    source = _startup()
    written = []
    for file in names:
        with as_file(source.joinpath(file)) as path:
            shutil.copyfile(path, startup / file)
        written.append(startup / file)
    return written
