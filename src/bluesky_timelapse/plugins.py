"""Discover what installed distributions provide through our entry point groups.

Any distribution can add a camera, a writer, a plan or a callback by declaring an
entry point in one of :data:`GROUPS`; this package registers its own the same way.
A plugin that fails to import is reported by name and never stops the others
from loading.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

logger = logging.getLogger(__name__)

DEVICES = "bluesky_timelapse.devices"
WRITERS = "bluesky_timelapse.writers"
PLANS = "bluesky_timelapse.plans"
CALLBACKS = "bluesky_timelapse.callbacks"
GROUPS: tuple[str, ...] = (DEVICES, WRITERS, PLANS, CALLBACKS)
"""Every entry point group this package reads."""


@dataclass(frozen=True)
class Plugin:
    """One entry point: what it is called and where it points.

    Attributes
    ----------
    group
        The entry point group, one of :data:`GROUPS`.
    name
        The name users refer to it by (e.g. ``"tiff"``).
    target
        ``"module:attribute"``.
    distribution
        The distribution that declares it, if known.
    """

    group: str
    name: str
    target: str
    distribution: str | None

    @classmethod
    def from_entry_point(cls, entry_point: EntryPoint) -> Plugin:
        """Wrap an :class:`importlib.metadata.EntryPoint`."""
        dist = entry_point.dist.name if entry_point.dist is not None else None
        return cls(entry_point.group, entry_point.name, entry_point.value, dist)

    def load(self) -> Any:
        """Import and return the object the entry point names."""
        return EntryPoint(self.name, self.target, self.group).load()


@dataclass(frozen=True)
class BrokenPlugin:
    """A plugin that could not be loaded, and why."""

    plugin: Plugin
    error: str


def available(group: str) -> list[Plugin]:
    """List the plugins of ``group`` without importing them, sorted by name.

    If two distributions declare the same name, the first one found wins.
    """
    _check_group(group)
    plugins: dict[str, Plugin] = {}
    for entry_point in entry_points(group=group):
        plugins.setdefault(entry_point.name, Plugin.from_entry_point(entry_point))
    return sorted(plugins.values(), key=lambda plugin: plugin.name)


def load_plugins(group: str) -> tuple[dict[str, Any], list[BrokenPlugin]]:
    """Load every plugin of ``group``.

    Returns
    -------
    loaded
        Name to loaded object, for the plugins that imported.
    broken
        The plugins that raised while loading, each logged as a warning.
    """
    loaded: dict[str, Any] = {}
    broken: list[BrokenPlugin] = []
    for plugin in available(group):
        try:
            loaded[plugin.name] = plugin.load()
        except Exception as err:
            reason = f"{type(err).__name__}: {err}"
            logger.warning(
                "plugin %r (%s, from %s) failed to load: %s",
                plugin.name,
                plugin.target,
                plugin.distribution or "unknown distribution",
                reason,
            )
            broken.append(BrokenPlugin(plugin, reason))
    return loaded, broken


def load_plugin(group: str, name: str) -> Any:
    """Load the plugin ``name`` of ``group``.

    Raises
    ------
    ValueError
        If no installed distribution provides ``name``; the message lists what is.
    ImportError
        If the plugin is installed but fails to load.
    """
    plugins = {plugin.name: plugin for plugin in available(group)}
    if name not in plugins:
        allowed = ", ".join(sorted(plugins)) or "none installed"
        raise ValueError(f"unknown {_kind(group)} {name!r}; allowed: {allowed}")
    plugin = plugins[name]
    try:
        return plugin.load()
    except Exception as err:
        raise ImportError(
            f"{_kind(group)} {name!r} ({plugin.target}, from "
            f"{plugin.distribution or 'unknown distribution'}) failed to load: {err}"
        ) from err


def _kind(group: str) -> str:
    return group.rsplit(".", 1)[-1].removesuffix("s")


def _check_group(group: str) -> None:
    if group not in GROUPS:
        raise ValueError(f"unknown entry point group {group!r}; allowed: {', '.join(GROUPS)}")
