"""``bluesky-timelapse status`` and ``list``: what the store and the sink's journal say."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from ..data_dir import DataDirectory
from ._options import add_data_dir_option


def add_status(commands: Any) -> None:
    """Add ``status`` to the subcommands."""
    status = commands.add_parser(
        "status",
        help="progress of timelapses and the Tiled sink's backlog",
        description=(
            "Show the timelapses of the store (progress, next slot, last error, "
            "suspension) and the backlog of the Tiled sink, from the files a running "
            "or stopped session leaves in the data directory."
        ),
    )
    status.add_argument("timelapse_id", nargs="?", help="one timelapse (default: all)")
    add_data_dir_option(status)
    status.set_defaults(run=_run_status)


def add_list(commands: Any) -> None:
    """Add ``list`` to the subcommands."""
    listing = commands.add_parser(
        "list",
        help="the timelapses of the store, one line each",
        description="List the timelapses of DATA_DIR/timelapses: id, status, slots done "
        "out of the total, next slot.",
    )
    add_data_dir_option(listing)
    listing.set_defaults(run=_run_list)


def _run_status(args: argparse.Namespace) -> int:
    from ..callbacks import read_health
    from ..plans import TimelapseSummary, list_timelapses, timelapse_status

    paths = DataDirectory.given(args.data_dir)
    store = paths.timelapses
    summaries: list[TimelapseSummary]
    if args.timelapse_id:
        try:
            summaries = [timelapse_status(args.timelapse_id, store)]
        except FileNotFoundError:
            print(
                f"bluesky-timelapse status: error: no timelapse {args.timelapse_id!r} in {store}",
                file=sys.stderr,
            )
            return 1
    else:
        summaries = list_timelapses(store) if store.is_dir() else []
    print(f"timelapses in {store}: {len(summaries)}")
    _print_timelapses(summaries, notes=True)
    health = read_health(paths.journal)
    if health is None:
        print("Tiled sink: no journal in this data directory")
    else:
        age = "-" if health.oldest_unsent_age is None else f"{health.oldest_unsent_age:.0f} s"
        when = datetime.fromtimestamp(health.updated, UTC)
        print(
            f"Tiled sink (as of {when:%Y-%m-%d %H:%M:%S} UTC): {health.queue_depth} documents "
            f"waiting in {health.runs_pending} runs, oldest {age}, "
            f"{'connected' if health.connected else 'not connected'}"
            + (f", last error: {health.last_error}" if health.last_error else "")
        )
    return 0


def _print_timelapses(summaries: Sequence[Any], *, notes: bool) -> None:
    """The table ``status`` and ``list`` print: one line per timelapse."""
    if summaries:
        header = f"  {'id':<28} {'status':<10} {'done':>9}  {'next slot (UTC)':<19}  notes"
        print(header if notes else header.removesuffix("notes").rstrip())
    for summary in summaries:
        done = sum(n for status, n in summary.counts.items() if status != "running")
        total = "inf" if summary.total is None else str(summary.total)
        upcoming = f"{summary.next_slot:%Y-%m-%d %H:%M:%S}" if summary.next_slot else "-"
        line = (
            f"  {summary.timelapse_id:<28} {summary.status:<10} {done:>4}/{total:<4}  "
            f"{upcoming:<19}"
        )
        if notes:
            remarks = []
            if summary.suspended:
                remarks.append(f"suspended: {summary.suspended}")
            if summary.counts.get("missed"):
                remarks.append(f"{summary.counts['missed']} missed")
            if summary.counts.get("failed"):
                remarks.append(f"{summary.counts['failed']} failed, last: {summary.last_error}")
            line += f"  {'; '.join(remarks)}"
        print(line.rstrip())


def _run_list(args: argparse.Namespace) -> int:
    from ..plans import list_timelapses

    store = DataDirectory.given(args.data_dir).timelapses
    _print_timelapses(list_timelapses(store) if store.is_dir() else [], notes=False)
    return 0
