"""``bluesky-timelapse demo``: a short timelapse of a simulated garden, read back from Tiled."""

from __future__ import annotations

import argparse
import contextlib
from datetime import UTC, datetime
from typing import Any

from ..data_dir import DataDirectory
from ._options import add_data_dir_option, positive_float, positive_int


def add_demo(commands: Any) -> None:
    """Add ``demo`` to the subcommands."""
    demo = commands.add_parser(
        "demo",
        help="a short timelapse of a simulated garden into the embedded Tiled, read back",
        description=(
            "Start the embedded Tiled server, run a timelapse of a simulated garden "
            "(SimCamera, two garden hours per slot) through a TiledSink, read the whole "
            "timelapse back from Tiled and check every frame against what the camera took."
        ),
    )
    demo.add_argument("--slots", type=positive_int, default=12, help="slots (default 12)")
    demo.add_argument(
        "--interval", type=positive_float, default=1.0, help="seconds between slots (default 1)"
    )
    demo.add_argument(
        "--writer",
        default="hdf5",
        help="frame writer: tiff, hdf5, zarr, npy or any installed one (default hdf5)",
    )
    add_data_dir_option(
        demo, "where frames, the Tiled catalog and the store live", suffix=", plus /demo"
    )
    demo.add_argument(
        "--tiled-uri",
        default=None,
        help="a Tiled server to use instead of the embedded one (default "
        "$BLUESKY_TIMELAPSE_TILED_URI; its API key from $TILED_API_KEY)",
    )
    demo.add_argument(
        "--keep-serving",
        action="store_true",
        help="leave the Tiled server up for browsing until Ctrl-C",
    )
    demo.add_argument("--no-progress", action="store_true", help="no progress bar")
    demo.set_defaults(run=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    from ..demo import run_demo

    data_dir = args.data_dir or DataDirectory.default().root / "demo"
    report = run_demo(
        data_dir,
        slots=args.slots,
        interval=args.interval,
        writer=args.writer,
        tiled_uri=args.tiled_uri,
        keep_serving=_serve_until_interrupted if args.keep_serving else None,
        progress=not args.no_progress,
    )
    identical = sum(row.identical for row in report.rows)
    print(f"bluesky-timelapse demo: timelapse {report.timelapse_id}, writer {args.writer}")
    print(f"  slots    {report.slots} scheduled, {len(report.rows)} frames in Tiled")
    print(f"  bytes    {report.nbytes:,} of frames read back with load()")
    print(f"  frames   {report.frames_directory}")
    print(f"  video    {report.video}")
    print(f"  sheet    {report.contact_sheet}")
    if report.tiled_directory is not None:
        print(f"  tiled    {report.uri} (embedded, catalog {report.tiled_directory}; stopped)")
    else:
        print(f"  tiled    {report.uri}")
    print()
    print("  slot  garden clock  brightness  Tiled == camera")
    for row in report.rows:
        garden_clock = datetime.fromtimestamp(row.scene_time % 86_400, UTC)
        print(
            f"  {row.slot:4d}  {garden_clock:%H:%M}         {row.brightness:10.3f}  "
            f"{'yes' if row.identical else 'NO'}"
        )
    print()
    print(
        f"{identical} of {report.slots} slots read back from Tiled identical to what the camera took."
    )
    return 0 if identical == report.slots else 1


def _serve_until_interrupted(server: Any) -> None:
    print(f"Tiled stays up at {server.uri} (API key in {server.key_file}); Ctrl-C to stop.")
    with contextlib.suppress(KeyboardInterrupt):
        server.wait()
