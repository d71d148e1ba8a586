"""The ``bluesky-timelapse`` command: parses, calls the layers below, prints.

Exit codes: 0 success, 1 the command failed, 2 bad command line, 3 a timelapse
stopped by Ctrl-C or SIGTERM (``resume`` continues it). One module a command.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .. import __version__
from . import _demo, _export, _plugins, _profile, _run, _serve, _show, _status

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args.run(args))
    except (OSError, ValueError, RuntimeError) as err:
        print(f"bluesky-timelapse {args.command}: error: {err}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bluesky-timelapse",
        description="Long-running timelapse imaging with Bluesky.",
        epilog="Exit codes: 0 success, 1 the command failed, 2 bad command line, "
        "3 timelapse stopped by Ctrl-C or SIGTERM (resume continues it).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    _demo.add_demo(commands)
    _status.add_status(commands)
    _show.add_show(commands)
    _export.add_export(commands)
    _serve.add_serve(commands)
    _run.add_run(commands)
    _run.add_resume(commands)
    _status.add_list(commands)
    _plugins.add_plugins(commands)
    _profile.add_profile(commands)
    return parser
