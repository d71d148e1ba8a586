"""``bluesky-timelapse serve``: the embedded Tiled server in the foreground."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..data_dir import DataDirectory
from ._options import add_data_dir_option, port_number


def add_serve(commands: Any) -> None:
    """Add ``serve`` to the subcommands."""
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
    add_data_dir_option(serve, "where frames and the Tiled catalog live")
    serve.add_argument(
        "--port",
        type=port_number,
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


def _run_serve(args: argparse.Namespace) -> int:
    import signal

    from ..tiled import LocalTiled

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
