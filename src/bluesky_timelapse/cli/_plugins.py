"""``bluesky-timelapse plugins``: what each entry point group provides."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_plugins(commands: Any) -> None:
    """Add ``plugins`` to the subcommands."""
    plugins_command = commands.add_parser(
        "plugins",
        help="what each entry point group provides, and the plugins that fail to load",
        description="For each entry point group, list name -> module:object and the "
        "distribution, loading each one; a plugin that fails to load is reported with "
        "its error (exit 1) and the others are still listed.",
    )
    plugins_command.set_defaults(run=_run_plugins)


def _run_plugins(args: argparse.Namespace) -> int:
    from ..plugins import GROUPS, available

    broken = 0
    for group in GROUPS:
        found = available(group)
        print(f"{group}: {len(found)}")
        for plugin in found:
            origin = f"  ({plugin.distribution})" if plugin.distribution else ""
            try:
                plugin.load()
            except Exception as err:
                broken += 1
                print(
                    f"  {plugin.name} -> {plugin.target}{origin}  BROKEN: {type(err).__name__}: {err}"
                )
            else:
                print(f"  {plugin.name} -> {plugin.target}{origin}")
    if broken:
        print(
            f"bluesky-timelapse plugins: error: {broken} plugin(s) failed to load", file=sys.stderr
        )
        return 1
    return 0
