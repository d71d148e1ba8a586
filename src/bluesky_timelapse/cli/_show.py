"""``bluesky-timelapse show ID``: a timelapse's whole record, for a person or as JSON."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping
from typing import Any, TextIO

from ..data_dir import DataDirectory
from ._options import add_data_dir_option


def add_show(commands: Any) -> None:
    """Add ``show`` to the subcommands."""
    show = commands.add_parser(
        "show",
        help="a timelapse's whole record: settings, suspensions and every slot",
        description=(
            "Print everything the store holds about one timelapse: its schedule, plan, "
            "metadata and options, its suspensions and one line per slot reached (when "
            "it was due, how it ended, how late, its run uid, its error). Slots stream "
            "from the store: a year of them prints in bounded memory."
        ),
    )
    show.add_argument("timelapse_id", help="the timelapse")
    show.add_argument(
        "--json",
        action="store_true",
        help="print the record as one JSON object (the layout of a TimelapseState)",
    )
    add_data_dir_option(show)
    show.set_defaults(run=_run_show)


def _run_show(args: argparse.Namespace) -> int:
    from ..persistence import TimelapseStore

    directory = DataDirectory.given(args.data_dir).timelapses
    if not directory.is_dir():
        print(f"bluesky-timelapse show: error: no timelapse store in {directory}", file=sys.stderr)
        return 1
    with TimelapseStore(directory) as store:
        try:
            state = store.load(args.timelapse_id, settled=False)
        except FileNotFoundError as err:
            print(f"bluesky-timelapse show: error: {err}", file=sys.stderr)
            return 1
        slots = (record.model_dump(mode="json") for record in store.iter_slots(state.timelapse_id))
        header = state.model_dump(mode="json", exclude={"slots", "settled"})
        if args.json:
            _print_json(header, slots, sys.stdout)
        else:
            _print_text(header, state.counts(), slots, sys.stdout)
    return 0


def _print_json(header: dict[str, Any], slots: Iterable[dict[str, Any]], out: TextIO) -> None:
    out.write(json.dumps(header)[:-1] + ', "slots": [')
    for position, record in enumerate(slots):
        out.write(("" if position == 0 else ", ") + json.dumps(record))
    out.write("]}\n")


def _print_text(
    header: dict[str, Any], counts: Mapping[Any, int], slots: Iterable[dict[str, Any]], out: TextIO
) -> None:
    for name in ("timelapse_id", "status"):
        out.write(f"{name + ':':<14}{header[name]}\n")
    for name in ("created", "updated"):
        out.write(f"{name + ':':<14}{_when(header[name])} UTC\n")
    for name in ("schedule", "detectors", "plan", "plan_kwargs", "md", "options"):
        out.write(f"{name + ':':<14}{json.dumps(header[name])}\n")
    reached = ", ".join(f"{n} {status}" for status, n in counts.items() if n) or "none"
    out.write(f"{'slots:':<14}{reached}\n")
    out.write(f"suspensions:  {len(header['suspensions'])}\n")
    for suspension in header["suspensions"]:
        ended = _when(suspension["ended"]) if suspension["ended"] else "ongoing"
        out.write(f"  {_when(suspension['started'])} .. {ended}  ")
        out.write(f"{suspension['reason']}\n")
    out.write(
        f"  {'slot':>6}  {'scheduled (UTC)':<20} {'status':<11} {'late (s)':>9}  "
        f"{'run uid':<36}  notes\n"
    )
    for record in slots:
        late = "-" if record["lateness"] is None else f"{record['lateness']:.3f}"
        notes = [] if record["stop_emitted"] else ["stop document owed"]
        if record["error"]:
            notes.append(record["error"])
        line = (
            f"  {record['index']:>6}  {_when(record['scheduled']):<20} {record['status']:<11} "
            f"{late:>9}  {record['run_uid'] or '-':<36}  {'; '.join(notes)}"
        )
        out.write(line.rstrip() + "\n")


def _when(iso: str) -> str:
    """``YYYY-MM-DD HH:MM:SS`` of a UTC time in ISO 8601."""
    return iso[:19].replace("T", " ")
