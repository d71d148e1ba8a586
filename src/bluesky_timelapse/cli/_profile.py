"""``bluesky-timelapse profile install``: the IPython profile shipped with the package."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_profile(commands: Any) -> None:
    """Add ``profile`` to the subcommands."""
    profile = commands.add_parser(
        "profile",
        help="the IPython profile shipped with the package",
        description="Manage the IPython profile shipped with the package.",
    )
    profile.set_defaults(run=lambda args: _print_help(profile))
    profile_commands = profile.add_subparsers(dest="profile_command", metavar="PROFILE_COMMAND")
    install = profile_commands.add_parser(
        "install",
        help="copy the profile's startup files into an IPython directory",
        description=(
            "Copy the timelapse profile (startup files 00-base.py, 10-devices.py, "
            "50-plans.py, 90-callbacks.py, README.md) into IPYTHON_DIR/profile_NAME/startup, then "
            "start it with 'ipython --profile=NAME'. Existing files are never overwritten "
            "without --force."
        ),
    )
    install.add_argument(
        "--ipython-dir",
        type=Path,
        default=None,
        help="the IPython directory (default $IPYTHONDIR or ~/.ipython)",
    )
    install.add_argument(
        "--name", default="timelapse", help="the profile's name (default timelapse)"
    )
    install.add_argument(
        "--force", action="store_true", help="overwrite profile files that exist already"
    )
    install.set_defaults(run=_run_profile_install)


def _print_help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _run_profile_install(args: argparse.Namespace) -> int:
    from ..ipython_profile import install_profile

    written = install_profile(args.ipython_dir, name=args.name, force=args.force)
    startup = written[0].parent
    print(f"bluesky-timelapse profile install: {len(written)} files in {startup}")
    for path in written:
        print(f"  {path.name}")
    ipython_dir = startup.parent.parent
    print(f"Start it with: ipython --ipython-dir={ipython_dir} --profile={args.name}")
    return 0
