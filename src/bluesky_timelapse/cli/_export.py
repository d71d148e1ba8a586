"""``bluesky-timelapse export ID OUT``: a video or a picture of a timelapse, from Tiled."""

from __future__ import annotations

import argparse
import sys
import warnings
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._files import check_writable
from ..data_dir import DataDirectory
from ._options import add_data_dir_option, positive_float, positive_int

if TYPE_CHECKING:
    import xarray as xr

PICTURES = ("sheet", "keogram", "startrails")
"""The kinds of ``.png`` export, one flag each."""


def add_export(commands: Any) -> None:
    """Add ``export`` to the subcommands."""
    export = commands.add_parser(
        "export",
        help="a video, contact sheet, keogram or star trails of a timelapse, from Tiled",
        description=(
            "Read a timelapse back from Tiled and write OUT: a video (.mp4 H.264, .webm "
            "VP9), an animated .gif, an OME-Zarr image (.ome.zarr) or, for .png, a contact sheet (--sheet), "
            "a keogram (--keogram) or star trails (--startrails). Frames stream from Tiled a batch at a time; OUT "
            "appears only when complete. Tiled: the embedded server of the data "
            "directory (started if need be), or --tiled-uri with $TILED_API_KEY."
        ),
    )
    export.add_argument("timelapse_id", help="the timelapse")
    export.add_argument("out", type=Path, help="the file to write; its suffix is the format")
    kind = export.add_mutually_exclusive_group()
    for name in PICTURES:
        kind.add_argument(
            f"--{name}",
            action="store_true",
            help=f"a .png {name.replace('startrails', 'star trails')}",
        )
    rate = export.add_mutually_exclusive_group()
    rate.add_argument("--fps", type=positive_float, help="video frames per second (default 24)")
    rate.add_argument("--duration", type=positive_float, help="video length in seconds")
    export.add_argument("--width", type=positive_int, help="GIF width in pixels")
    export.add_argument("--max-bytes", type=positive_int, help="GIF size limit (scaled down)")
    export.add_argument("--label", help='text burned into each video frame, e.g. "{time:%%H:%%M}"')
    export.add_argument("--time-zone", default="UTC", help="zone of the times shown (IANA name)")
    export.add_argument("--slots", type=_slot_range, help="slot indices A:B (B excluded)")
    export.add_argument("--start", type=_aware_time, help="first scheduled time (ISO 8601)")
    export.add_argument("--end", type=_aware_time, help="scheduled times before this (ISO 8601)")
    export.add_argument("--every", type=positive_int, default=1, help="every k-th slot")
    export.add_argument(
        "--crop", type=_crop, metavar="Y0:Y1,X0:X1", help="rows Y0 to Y1, columns X0 to X1"
    )
    export.add_argument(
        "--scale", type=float, default=1.0, help="resize each frame by this factor (0-8]"
    )
    export.add_argument(
        "--skip-unreadable",
        action="store_true",
        help="leave out a frame that cannot be read (and name it) instead of failing",
    )
    contrast = export.add_mutually_exclusive_group()
    contrast.add_argument(
        "--range",
        nargs=2,
        type=float,
        metavar=("LOW", "HIGH"),
        help="pixel values of black, white",
    )
    contrast.add_argument(
        "--percentiles",
        nargs=2,
        type=float,
        metavar=("DARK", "BRIGHT"),
        help="percentiles of a sample of frames that become black and white (default 0.5 99.5)",
    )
    export.add_argument("--column", type=int, help="keogram: the column of each frame")
    export.add_argument("--row", type=int, help="keogram: a row of each frame instead")
    export.add_argument("--field", help="the image's data key (default: the only image)")
    export.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    export.add_argument("--tiled-uri", help="a Tiled server (API key from $TILED_API_KEY)")
    export.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_data_dir_option(export)
    export.set_defaults(run=_run_export)


def _run_export(args: argparse.Namespace) -> int:
    import httpx

    from ..products import Tone, UnreadableFrameWarning, select
    from ..session import choose_tiled
    from ..tiled import load, tiled_settings

    picture = next((name for name in PICTURES if getattr(args, name)), None)
    suffix = args.out.suffix.lower()
    problem = None
    if suffix == ".png" and picture is None:
        problem = f"{args.out}: a .png needs --sheet, --keogram or --startrails"
    elif picture is not None and suffix != ".png":
        problem = f"--{picture} writes a .png, not {args.out}"
    if problem:
        print(f"bluesky-timelapse export: error: {problem}", file=sys.stderr)
        return 2
    tone = (
        Tone(*args.range)
        if args.range
        else Tone(percentiles=tuple(args.percentiles))
        if args.percentiles
        else Tone()
    )
    if args.out.exists() and not args.overwrite:
        print(
            f"bluesky-timelapse export: error: {args.out} exists; give --overwrite to replace it",
            file=sys.stderr,
        )
        return 1
    check_writable(args.out)
    paths = DataDirectory.given(args.data_dir)
    server, client_factory, _ = choose_tiled(paths, tiled_settings(args.tiled_uri))
    try:
        try:
            frames = load(client_factory(), args.timelapse_id, field=args.field)
        except LookupError as err:  # no such timelapse, or field
            print(f"bluesky-timelapse export: error: {err.args[0]}", file=sys.stderr)
            return 1
        frames = select(
            frames,
            slots=args.slots,
            start=args.start,
            end=args.end,
            every=args.every,
            crop=args.crop,
            scale=args.scale,
        )
        common: dict[str, Any] = {
            "tone": tone,
            "overwrite": args.overwrite,
            "progress": not args.no_progress,
            "unreadable": "skip" if args.skip_unreadable else "raise",
        }
        with warnings.catch_warnings(record=True, category=UnreadableFrameWarning) as skipped:
            try:
                _write(args, picture, frames, common)
            except httpx.HTTPError as err:  # a frame Tiled could not serve
                print(
                    f"bluesky-timelapse export: error: a frame could not be read ({err}); "
                    f"{args.out} was not written (--skip-unreadable leaves such frames out)",
                    file=sys.stderr,
                )
                return 1
        for warning in skipped:
            print(f"bluesky-timelapse export: warning: {warning.message}", file=sys.stderr)
    finally:
        if server is not None:
            server.stop()
    print(f"{args.out} ({frames.sizes['slot']} frames of timelapse {args.timelapse_id})")
    return 0


def _write(
    args: argparse.Namespace, picture: str | None, frames: xr.DataArray, common: dict[str, Any]
) -> None:
    """Write the product ``args`` ask for."""
    from ..products import (
        contact_sheet,
        keogram,
        star_trails,
        write_gif,
        write_ome_zarr,
        write_video,
    )

    if picture == "sheet":
        contact_sheet(frames, args.out, time_zone=args.time_zone, **common)
    elif picture == "keogram":
        keogram(frames, args.out, column=args.column, row=args.row, **common)
    elif picture == "startrails":
        star_trails(frames, args.out, **common)
    elif args.out.name.endswith(".ome.zarr"):
        write_ome_zarr(frames, args.out, **common)
    elif args.out.suffix.lower() == ".gif":
        write_gif(
            frames,
            args.out,
            fps=args.fps or 10.0,
            duration=args.duration,
            width=args.width,
            max_bytes=args.max_bytes,
            label=args.label,
            time_zone=args.time_zone,
            **common,
        )
    else:
        write_video(
            frames,
            args.out,
            fps=args.fps,
            duration=args.duration,
            label=args.label,
            time_zone=args.time_zone,
            **common,
        )


def _crop(text: str) -> tuple[slice, slice]:
    rows, comma, columns = text.partition(",")
    try:
        if not comma:
            raise argparse.ArgumentTypeError("")
        return _slot_range(rows), _slot_range(columns)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not allowed; give Y0:Y1,X0:X1 (rows, then columns; an end may be "
            "left out, e.g. 0:480,100:)"
        ) from None


def _slot_range(text: str) -> slice:
    start, colon, stop = text.partition(":")
    try:
        if not colon:
            raise ValueError
        return slice(int(start) if start else None, int(stop) if stop else None)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not allowed; give A:B, A: or :B with whole numbers"
        ) from None


def _aware_time(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time") from None
    if when.utcoffset() is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} has no time zone; give one, e.g. {text}+00:00 or {text}Z"
        )
    return when
