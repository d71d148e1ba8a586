"""``bluesky-timelapse run`` and ``resume``: a timelapse unattended, from a YAML config file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..data_dir import DataDirectory
from ._options import add_data_dir_option


def add_run(commands: Any) -> None:
    """Add ``run`` to the subcommands."""
    run = commands.add_parser(
        "run",
        help="run a timelapse unattended, as a YAML config file describes it",
        description=(
            "Check CONFIG (cameras, schedule, timelapse options, data directory, Tiled, "
            "suspenders; see docs/cli.md), then run the timelapse it describes with a "
            "progress bar, until it completes. Nothing is written before the whole file "
            "checks out. Ctrl-C or SIGTERM stops it cleanly (exit 3); "
            "'bluesky-timelapse resume' continues it."
        ),
    )
    run.add_argument("config", type=Path, metavar="CONFIG", help="the YAML config file")
    run.add_argument(
        "--resume",
        action="store_true",
        help="if the config's timelapse.timelapse_id is in the store already, resume it "
        "(nothing to do if it completed) instead of refusing",
    )
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.set_defaults(run=_run_run)


def add_resume(commands: Any) -> None:
    """Add ``resume`` to the subcommands."""
    resume = commands.add_parser(
        "resume",
        help="continue a stopped or interrupted timelapse",
        description=(
            "Resume TIMELAPSE_ID (default: the only unfinished timelapse of the store) "
            "with the cameras of its config file: --config, else the file 'run' "
            "recorded in the timelapse's metadata. No slot is acquired twice."
        ),
    )
    resume.add_argument(
        "timelapse_id", nargs="?", help="the timelapse (default: the unfinished one)"
    )
    resume.add_argument(
        "--config",
        type=Path,
        default=None,
        help="the config file the timelapse was run with (its data directory is used)",
    )
    add_data_dir_option(resume, "the data directory when --config is not given")
    resume.add_argument("--no-progress", action="store_true", help="no progress bar")
    resume.set_defaults(run=_run_resume)


def _run_run(args: argparse.Namespace) -> int:
    from ..persistence import TimelapseStore
    from ..run_config import ConfigError, load_config, unfinished

    try:
        loaded = load_config(args.config)
    except ConfigError as err:
        print(f"bluesky-timelapse run: error: invalid config\n{err}", file=sys.stderr)
        return 1
    timelapse_id = loaded.config.timelapse.timelapse_id
    resume_id = None
    if args.resume and timelapse_id is None:
        print(
            "bluesky-timelapse run: error: --resume needs timelapse.timelapse_id in "
            f"{args.config}",
            file=sys.stderr,
        )
        return 1
    if timelapse_id is not None and loaded.store.is_dir():
        store = TimelapseStore(loaded.store)
        if store.exists(timelapse_id):
            status = store.load(timelapse_id, settled=False).status
            if not args.resume:
                print(
                    f"bluesky-timelapse run: error: timelapse {timelapse_id!r} exists already "
                    f"in {loaded.store} ({status}); resume it with 'bluesky-timelapse resume "
                    f"{timelapse_id} --config {args.config}' or use another timelapse_id",
                    file=sys.stderr,
                )
                return 1
            if not unfinished(status):
                print(
                    f"bluesky-timelapse run: timelapse {timelapse_id} is {status}; nothing to do"
                )
                return 0 if status == "completed" else 1
            resume_id = timelapse_id
    return _execute(loaded, resume_id, "run", progress=not args.no_progress)


def _execute(loaded: Any, resume_id: str | None, command: str, *, progress: bool) -> int:
    from ..run_config import run_from_config

    def announce(timelapse_id: str) -> None:
        verb = "resuming" if resume_id else "running"
        print(
            f"bluesky-timelapse {command}: {verb} timelapse {timelapse_id} "
            f"(data directory {loaded.data_dir})",
            flush=True,
        )

    try:
        outcome = run_from_config(
            loaded, resume_id=resume_id, progress=progress, announce=announce
        )
    except KeyboardInterrupt:
        print(f"bluesky-timelapse {command}: interrupted before the timelapse began", flush=True)
        return 3
    print(
        f"bluesky-timelapse {command}: timelapse {outcome.timelapse_id} {outcome.status}",
        flush=True,
    )
    if outcome.interrupted or outcome.status == "stopped":
        print(
            f"  continue it with: bluesky-timelapse resume {outcome.timelapse_id} "
            f"--config {loaded.path}",
            flush=True,
        )
        return 3
    return 0 if outcome.status == "completed" else 1


def _run_resume(args: argparse.Namespace) -> int:
    from ..plans import list_timelapses
    from ..run_config import CONFIG_MD_KEY, ConfigError, load_config, unfinished

    loaded = None
    if args.config is not None:
        try:
            loaded = load_config(args.config)
        except ConfigError as err:
            print(f"bluesky-timelapse resume: error: invalid config\n{err}", file=sys.stderr)
            return 1
        data_dir = loaded.data_dir
    else:
        data_dir = DataDirectory.given(args.data_dir).root
    store = DataDirectory(data_dir).timelapses
    summaries = {s.timelapse_id: s for s in (list_timelapses(store) if store.is_dir() else [])}
    timelapse_id = args.timelapse_id
    if timelapse_id is None:
        candidates = [s for s in summaries.values() if unfinished(s.status)]
        if len(candidates) != 1:
            listed = "".join(f"\n  {s.timelapse_id} ({s.status})" for s in candidates)
            print(
                f"bluesky-timelapse resume: error: {len(candidates)} unfinished timelapses in "
                f"{store}; "
                + ("give the one to resume:" + listed if candidates else "nothing to resume"),
                file=sys.stderr,
            )
            return 1
        timelapse_id = candidates[0].timelapse_id
    elif timelapse_id not in summaries:
        print(
            f"bluesky-timelapse resume: error: no timelapse {timelapse_id!r} in {store}",
            file=sys.stderr,
        )
        return 1
    summary = summaries[timelapse_id]
    if not unfinished(summary.status):
        print(
            f"bluesky-timelapse resume: timelapse {timelapse_id} is {summary.status}; nothing to do"
        )
        return 0 if summary.status == "completed" else 1
    from ..persistence import TimelapseStore

    state = TimelapseStore(store).load(timelapse_id, settled=False)
    if loaded is None:
        recorded = state.md.get(CONFIG_MD_KEY)
        if not isinstance(recorded, str):
            recorded = None
        if not recorded:
            print(
                f"bluesky-timelapse resume: error: timelapse {timelapse_id!r} records no config "
                "file; give it with --config",
                file=sys.stderr,
            )
            return 1
        try:
            loaded = load_config(recorded)
        except ConfigError as err:
            print(f"bluesky-timelapse resume: error: invalid config\n{err}", file=sys.stderr)
            return 1
        if loaded.data_dir != data_dir:
            print(
                f"bluesky-timelapse resume: error: the config {recorded} uses the data directory "
                f"{loaded.data_dir}, not {data_dir}",
                file=sys.stderr,
            )
            return 1
    names = [camera.name for camera in loaded.cameras]
    if names != state.detectors:
        print(
            f"bluesky-timelapse resume: error: the config's cameras {names} differ from those "
            f"timelapse {timelapse_id!r} started with ({state.detectors})",
            file=sys.stderr,
        )
        return 1
    return _execute(loaded, timelapse_id, "resume", progress=not args.no_progress)
