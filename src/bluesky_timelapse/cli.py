"""The ``bluesky-timelapse`` command.

Exit codes: 0 success, 1 the command failed, 2 bad command line, 3 a timelapse
stopped by Ctrl-C or SIGTERM (``resume`` continues it).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import __version__
from .data_dir import DATA_DIR_VARIABLE, DataDirectory


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

    demo = commands.add_parser(
        "demo",
        help="a short timelapse of a simulated garden into the embedded Tiled, read back",
        description=(
            "Start the embedded Tiled server, run a timelapse of a simulated garden "
            "(SimCamera, two garden hours per slot) through a TiledSink, read the whole "
            "timelapse back from Tiled and check every frame against what the camera took."
        ),
    )
    demo.add_argument("--slots", type=_positive_int, default=12, help="slots (default 12)")
    demo.add_argument(
        "--interval", type=_positive_float, default=1.0, help="seconds between slots (default 1)"
    )
    demo.add_argument(
        "--writer",
        default="hdf5",
        help="frame writer: tiff, hdf5, zarr, npy or any installed one (default hdf5)",
    )
    demo.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help=f"where frames, the Tiled catalog and the store live (default ${DATA_DIR_VARIABLE} "
        "or the user data directory, plus /demo)",
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
    status.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help=f"the data directory (default ${DATA_DIR_VARIABLE} or the user data directory)",
    )
    status.set_defaults(run=_run_status)

    serve = commands.add_parser(
        "serve",
        help="run the embedded Tiled server in the foreground until Ctrl-C",
        description=(
            "Serve the Tiled catalog kept in DATA_DIR/tiled on 127.0.0.1, with the frames "
            "under DATA_DIR/frames readable, until Ctrl-C or SIGTERM. Clients need the API "
            "key stored in DATA_DIR/tiled/api_key; it is never printed. Point other "
            "processes here with BLUESKY_TIMELAPSE_TILED_URI=<the printed URL> and "
            "TILED_API_KEY=<the key>."
        ),
    )
    serve.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help=f"where frames and the Tiled catalog live (default ${DATA_DIR_VARIABLE} or "
        "the user data directory)",
    )
    serve.add_argument(
        "--port",
        type=_port_number,
        default=0,
        help="TCP port on 127.0.0.1 (default: a free one)",
    )
    serve.add_argument(
        "--catalog",
        default=None,
        metavar="URI",
        help="the catalog database, e.g. postgresql://tiled@db:5432/tiled for a facility "
        "whose rigs share it (default: SQLite in DATA_DIR/tiled); keep passwords in .pgpass",
    )
    serve.add_argument(
        "--readable",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="another directory whose frame files the server may serve (repeatable), e.g. "
        "the rigs' shared storage; DATA_DIR/frames always is",
    )
    serve.set_defaults(run=_run_serve)

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
    resume.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help=f"the data directory when --config is not given (default ${DATA_DIR_VARIABLE} "
        "or the user data directory)",
    )
    resume.add_argument("--no-progress", action="store_true", help="no progress bar")
    resume.set_defaults(run=_run_resume)

    listing = commands.add_parser(
        "list",
        help="the timelapses of the store, one line each",
        description="List the timelapses of DATA_DIR/timelapses: id, status, slots done "
        "out of the total, next slot.",
    )
    listing.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help=f"the data directory (default ${DATA_DIR_VARIABLE} or the user data directory)",
    )
    listing.set_defaults(run=_run_list)

    plugins_command = commands.add_parser(
        "plugins",
        help="what each entry point group provides, and the plugins that fail to load",
        description="For each entry point group, list name -> module:object and the "
        "distribution, loading each one; a plugin that fails to load is reported with "
        "its error (exit 1) and the others are still listed.",
    )
    plugins_command.set_defaults(run=_run_plugins)

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
            "50-plans.py, 90-callbacks.py, user_group_permissions.yaml for "
            "bluesky-queueserver, README.md) into IPYTHON_DIR/profile_NAME/startup, then "
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
    return parser


def _print_help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not allowed; give a whole number >= 1")
    return value


def _run_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

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


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{value} is not allowed; give seconds > 0")
    return value


def _run_status(args: argparse.Namespace) -> int:
    from .callbacks import read_health
    from .plans import TimelapseSummary, list_timelapses, timelapse_status

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
    from .plans import list_timelapses

    store = DataDirectory.given(args.data_dir).timelapses
    _print_timelapses(list_timelapses(store) if store.is_dir() else [], notes=False)
    return 0


def _run_plugins(args: argparse.Namespace) -> int:
    from .plugins import GROUPS, available

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


def _run_run(args: argparse.Namespace) -> int:
    from .persistence import TimelapseStore
    from .run_config import ConfigError, load_config, unfinished

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
            status = store.load(timelapse_id).status
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
    from .run_config import run_from_config

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
    from .plans import list_timelapses
    from .run_config import CONFIG_MD_KEY, ConfigError, load_config, unfinished

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
    from .persistence import TimelapseStore

    state = TimelapseStore(store).load(timelapse_id)
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


def _port_number(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(
            f"{value} is not allowed; give a port 1-65535, or 0 for a free one"
        )
    return value


def _run_serve(args: argparse.Namespace) -> int:
    import signal

    from .tiled import LocalTiled

    paths = DataDirectory.given(args.data_dir)
    frames = paths.frames
    frames.mkdir(parents=True, exist_ok=True)
    try:
        server = LocalTiled(
            paths.tiled,
            readable_storage=[frames, *args.readable],
            port=args.port,
            catalog=args.catalog,
        )
    except ValueError as err:
        print(f"bluesky-timelapse serve: error: {err}", file=sys.stderr)
        return 1

    def stop_on_sigterm(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop_on_sigterm)
    try:
        with server:
            print(f"bluesky-timelapse serve: Tiled at {server.uri}")
            print(f"  API key  in {server.key_file} (HTTP header 'Authorization: Apikey <key>')")
            print(f"  catalog  {_without_password(args.catalog) or server.directory}")
            print(f"  frames   {', '.join(str(path) for path in server.readable_storage)}")
            print(f"  log      {server.log_file}")
            print(f"  started in {server.start_seconds:.1f} s; press Ctrl-C to stop", flush=True)
            code = server.wait()
        print(
            f"bluesky-timelapse serve: error: the Tiled server exited by itself (code {code}); "
            f"see {server.log_file}",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        print("bluesky-timelapse serve: stopped", flush=True)
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run_profile_install(args: argparse.Namespace) -> int:
    from .ipython_profile import install_profile

    written = install_profile(args.ipython_dir, name=args.name, force=args.force)
    startup = written[0].parent
    print(f"bluesky-timelapse profile install: {len(written)} files in {startup}")
    for path in written:
        print(f"  {path.name}")
    ipython_dir = startup.parent.parent
    print(f"Start it with: ipython --ipython-dir={ipython_dir} --profile={args.name}")
    return 0


def _without_password(uri: str | None) -> str | None:
    """``uri`` with any password replaced by ``***``."""
    if uri is None:
        return None
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
