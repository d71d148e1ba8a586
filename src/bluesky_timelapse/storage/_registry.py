"""Find frame writers by name through the ``bluesky_timelapse.writers`` entry points."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import plugins
from ._base import FrameWriter

WriterFactory = Callable[..., FrameWriter]
"""Anything that builds an unopened writer, usually a writer class."""


def writer_names() -> list[str]:
    """Names of the installed writers, e.g. ``["hdf5", "npy", "tiff", "zarr"]``."""
    return [plugin.name for plugin in plugins.available(plugins.WRITERS)]


def writer_factory(name: str) -> WriterFactory:
    """Return the installed writer factory called ``name``.

    Raises
    ------
    ValueError
        If no writer of that name is installed; the message lists those that are.
    """
    factory: WriterFactory = plugins.load_plugin(plugins.WRITERS, name)
    return factory


def writer_for(name: str, **options: Any) -> FrameWriter:
    """Build an unopened writer by name, passing ``options`` to its constructor."""
    return writer_factory(name)(**options)
