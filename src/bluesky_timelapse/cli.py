"""The ``bluesky-timelapse`` command.

Exit codes: 0 success, 1 the command failed, 2 bad command line.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from . import __version__
from .locations import DATA_DIR_VARIABLE, default_data_dir


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
        epilog="Exit codes: 0 success, 1 the command failed, 2 bad command line.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="image a simulated garden into an embedded Tiled server and read it back",
        description=(
            "Acquire frames of a simulated garden (two garden hours per frame) with "
            "SimCamera, store the documents in an embedded Tiled server, and check "
            "every frame read back from Tiled against the file on disk."
        ),
    )
    demo.add_argument("--frames", type=_positive_int, default=12, help="frames (default 12)")
    demo.add_argument(
        "--writer",
        default="hdf5",
        help="frame writer: tiff, hdf5, zarr, npy or any installed one (default hdf5)",
    )
    demo.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help=f"where frames and the Tiled catalog live (default ${DATA_DIR_VARIABLE} or "
        "the user data directory, plus /demo)",
    )
    demo.set_defaults(run=_run_demo)
    return parser


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not allowed; give a whole number >= 1")
    return value


def _run_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    data_dir = args.data_dir or default_data_dir() / "demo"
    report = run_demo(data_dir, frames=args.frames, writer=args.writer)
    print(
        f"bluesky-timelapse demo: {args.frames} frames of a simulated garden, writer {args.writer}"
    )
    print(f"  frames   {report.frames_location}")
    print(f"  tiled    {report.catalog_directory} (embedded server on 127.0.0.1, stopped)")
    print(f"  run      {report.run_uid}  exit_status={report.exit_status}")
    print()
    print("  frame  garden clock  brightness  Tiled == camera")
    for row in report.rows:
        garden_clock = datetime.fromtimestamp(row.scene_time % 86_400, UTC)
        print(
            f"  {row.index:5d}  {garden_clock:%H:%M}         {row.mean_level:10.3f}  "
            f"{'yes' if row.identical else 'NO'}"
        )
    identical = sum(row.identical for row in report.rows)
    print()
    print(
        f"{identical} of {args.frames} frames read back from Tiled identical to what the camera took."
    )
    return 0 if identical == args.frames and report.exit_status == "success" else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
