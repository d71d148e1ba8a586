"""The embedded default Tiled server: ``tiled serve config`` in a child process.

:class:`LocalTiled` runs a Tiled server for one machine: a persistent SQLite
catalog with SQLite event tables and array files in ``directory``, the directories
where cameras write frames registered as readable storage (TiledWriter links the
frame files, it does not copy them), and single-user API key authentication,
listening on 127.0.0.1 only.

>>> with LocalTiled(readable_storage=[frames_root]) as server:  # doctest: +SKIP
...     RE.subscribe(TiledWriter(server.client()))
...     (uid,) = RE(count([camera], num=5))
...     server.client()[uid].documents()

Why a child process and not :class:`tiled.server.SimpleTiledServer`
--------------------------------------------------------------------
- The root of a ``SimpleTiledServer`` has no ``CatalogOfBlueskyRuns`` spec and no
  json-seq exporter, so ``run.documents()``, ``client.v1`` and ``client.v2`` are
  unavailable there. A configuration file gives the root both.
- Its server thread is not a daemon: a script that raises before ``close()`` hangs
  at exit. A child process is stopped by :meth:`LocalTiled.stop`, by ``atexit``,
  and, should this process be killed, by a watchdog in the child that notices it
  has been orphaned.
- The server does not share the GIL with the RunEngine, and a crash of the server
  does not take the acquisition down with it. The child runs in its own session,
  so the Ctrl-C that pauses a plan in a terminal never reaches the server.

Files in ``directory`` (created 0700), laid out as ``SimpleTiledServer`` lays
them out, so a directory the demo filled can be served as it is:

==================  =========================================================
``api_key``         the single-user API key, made once, 0600, reused on restart
``config.yml``      the generated Tiled configuration (no key), 0600
``catalog.db``      the SQLite catalog: every run ever written
``storage.sqlite``  event tables written through Tiled
``storage.duckdb``  event tables of runs written before 0.2 (read only, if present)
``data/``           arrays written through Tiled
``server.log``      the server's output (access log included), 0600
``server.json``     pid and URI of the running server (no key), 0600
==================  =========================================================

The key is stored in ``api_key`` only. It never appears on a command line, in the
child's initial environment, in ``config.yml``, in the server's log, in a ``repr``
or in an exception: the child reads the key file itself (its path is passed, not
the key) and ``config.yml`` names a variable the child sets for itself, the client
sends it as an ``Authorization`` header, ``api_key=`` values in URLs are
redacted from the log, and Tiled's start-up banner (which prints an
``?api_key=`` link) is suppressed.

One server per directory: a second :class:`LocalTiled` on a directory whose
server is running raises :class:`ServerAlreadyRunning`, naming that server's URI;
connect to it with :func:`bluesky_timelapse.tiled.connect` instead.
"""

from __future__ import annotations

import atexit
import contextlib
import copy
import errno
import json
import logging
import os
import re
import secrets
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import yaml
from filelock import FileLock, Timeout

from .._child import python_command
from .._files import FILE_MODE, atomic_write, make_private_directory
from ..data_dir import DataDirectory
from ._target import TiledTarget

__all__ = [
    "BLUESKY_RUNS_SPEC",
    "LocalTiled",
    "ServerAlreadyRunning",
    "find_local_tiled",
    "local_tiled",
]

logger = logging.getLogger("bluesky_timelapse.tiled")

HOST = "127.0.0.1"
"""The only address the embedded server listens on."""

BLUESKY_RUNS_SPEC = {"name": "CatalogOfBlueskyRuns", "version": "3.0"}
"""Spec of the root node: a SQL-backed catalog of bluesky runs (``client.v1``, ``v2``, ``v3``)."""

JSON_SEQ_EXPORTER = "bluesky_tiled_plugins.exporters:json_seq_exporter"
"""The exporter behind ``run.documents()``."""

START_TIMEOUT = 60.0
"""Default seconds :meth:`LocalTiled.start` waits for the server to answer."""

STOP_TIMEOUT = 10.0
"""Default seconds :meth:`LocalTiled.stop` waits after SIGTERM before SIGKILL."""

KEY_FILE = "api_key"
CONFIG_FILE = "config.yml"
CATALOG_FILE = "catalog.db"
DATA_DIRECTORY = "data"
TABLES_FILE = "storage.sqlite"
DUCKDB_TABLES_FILE = "storage.duckdb"
"""Where event tables went before SQLite (read, and appended to, where it exists)."""
CATALOG_SCHEMES = ("postgresql://", "postgresql+asyncpg://", "sqlite:///", "sqlite+aiosqlite:///")
"""The catalog URIs :class:`LocalTiled` accepts besides its own SQLite file."""
LOG_FILE = "server.log"
STATE_FILE = "server.json"
LOCK_FILE = ".server.lock"

_ONE_TABLES_CONNECTION = {"storage_pool_size": 1, "storage_max_overflow": 0}
_PORT_ATTEMPTS = 3
_LOG_TAIL_LINES = 20
_PARENT_VARIABLE = "BLUESKY_TIMELAPSE_TILED_PARENT"
_KEY_FILE_VARIABLE = "BLUESKY_TIMELAPSE_TILED_KEY_FILE"
_KEY_VARIABLE = "BLUESKY_TIMELAPSE_TILED_API_KEY"
"""Set by the child for itself from the key file; ``config.yml`` names it, Tiled expands it."""
_API_KEY_IN_TEXT = re.compile(r"(api(?:_|%5F)key(?:=|%3D))[^&\s\"']*", re.IGNORECASE)


class ServerAlreadyRunning(RuntimeError):
    """A Tiled server for this directory is already running (or still starting).

    Attributes
    ----------
    directory
        The directory both servers would share.
    uri
        The running server's URI, if it has published one.
    pid
        Its process id, if known.
    """

    def __init__(self, message: str, directory: Path, uri: str | None, pid: int | None) -> None:
        super().__init__(message)
        self.directory = directory
        self.uri = uri
        self.pid = pid


class LocalTiled:
    """A Tiled server on 127.0.0.1 with a persistent catalog in ``directory``.

    Parameters
    ----------
    directory
        Where the catalog, tables, array files, key, configuration and log live
        (default ``DataDirectory.default().tiled``). Created 0700 if missing.
    readable_storage
        Directories whose files the server may serve: where cameras write frames.
        TiledWriter registers frame files there instead of copying them.
    port
        TCP port on 127.0.0.1; 0 (default) picks a free one, and a restart of the
        same object tries its previous port first so its URI stays the same.
    catalog
        The catalog database: None (default) for SQLite in ``directory``, or a
        PostgreSQL URI (``postgresql://user@host:5432/db``) for a facility whose
        rigs share one catalog; it is created on first use, and the event tables
        go into the same database. Keep passwords out of
        the URI (use a ``.pgpass`` file): the URI goes into the configuration file.

    Raises
    ------
    ValueError
        If ``port`` is not 0-65535 or ``catalog`` is not a PostgreSQL or SQLite URI.

    Examples
    --------
    >>> with LocalTiled(Path("tiled"), readable_storage=[Path("frames")]) as server:  # doctest: +SKIP
    ...     print(server.uri)  # no key in it
    ...     client = server.client()  # authenticated with the key file
    """

    def __init__(
        self,
        directory: Path | str | None = None,
        *,
        readable_storage: Sequence[Path | str] = (),
        port: int = 0,
        catalog: str | None = None,
    ) -> None:
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"port {port!r} is not allowed; give 1-65535, or 0 for a free port")
        if catalog is not None and not (
            isinstance(catalog, str) and catalog.startswith(CATALOG_SCHEMES)
        ):
            raise ValueError(
                f"catalog {catalog!r} is not allowed; give a URI starting with "
                f"{' or '.join(CATALOG_SCHEMES)}, or None for SQLite in the directory"
            )
        self.catalog = catalog
        if isinstance(readable_storage, str | Path):
            raise ValueError(
                f"readable_storage must be a sequence of directories, not the single "
                f"path {str(readable_storage)!r}; write [{str(readable_storage)!r}]"
            )
        self.directory = Path(
            directory if directory is not None else DataDirectory.default().tiled
        )
        self.directory = self.directory.absolute()
        self.readable_storage: tuple[Path, ...] = tuple(
            Path(path).absolute() for path in readable_storage
        )
        self.port = port
        self.start_seconds: float | None = None
        """How long the last :meth:`start` took until the server answered."""
        self._api_key: str | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._bound_port: int | None = None
        self._lock: FileLock | None = None

    # -- files -----------------------------------------------------------------

    @property
    def key_file(self) -> Path:
        """The file holding the API key (0600)."""
        return self.directory / KEY_FILE

    @property
    def config_file(self) -> Path:
        """The generated Tiled configuration (0600; it names the key's variable, not the key)."""
        return self.directory / CONFIG_FILE

    @property
    def log_file(self) -> Path:
        """Where the server's stdout and stderr go (0600)."""
        return self.directory / LOG_FILE

    @property
    def state_file(self) -> Path:
        """The file ``server.json``, with the pid and URI of the running server (no key)."""
        return self.directory / STATE_FILE

    # -- state -----------------------------------------------------------------

    @property
    def api_key(self) -> str:
        """The key the server uses; when stopped, the one in :attr:`key_file` (made if missing)."""
        if self._api_key is None or not self.running:
            make_private_directory(self.directory)
            self._api_key = _load_or_create_key(self.key_file)
        return self._api_key

    @property
    def running(self) -> bool:
        """True while the server process started by this object is alive."""
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs."""
        return self._process.pid if self.running and self._process else None

    @property
    def uri(self) -> str:
        """``http://127.0.0.1:PORT``, with no key in it.

        Raises
        ------
        RuntimeError
            If the server is not running.
        """
        if not self.running or self._bound_port is None:
            raise RuntimeError(
                f"the Tiled server for {str(self.directory)!r} is not running; call start() "
                "or use 'with LocalTiled(...) as server:'"
            )
        return f"http://{HOST}:{self._bound_port}"

    @property
    def target(self) -> TiledTarget:
        """URI and key together, for :func:`~bluesky_timelapse.tiled.connect`."""
        return TiledTarget(self.uri, self.api_key)

    def client(self, **kwargs: Any) -> Any:
        """A Tiled client of this server, authenticated with the key.

        Parameters
        ----------
        **kwargs
            Passed on to :func:`tiled.client.from_uri` (e.g. ``structure_clients="dask"``).
        """
        from tiled.client import from_uri

        kwargs.setdefault("trust_env", False)  # loopback: no proxy from the environment
        return from_uri(self.uri, api_key=self.api_key, **kwargs)

    def __repr__(self) -> str:
        where = f"{type(self).__name__}(directory={str(self.directory)!r}"
        if self.running:
            return f"{where}, uri={self.uri!r}, pid={self.pid})"
        return f"{where}, not running)"

    # -- lifecycle ---------------------------------------------------------------

    def start(self, timeout: float = START_TIMEOUT) -> LocalTiled:
        """Start the server and wait until it answers; nothing happens if it runs.

        Parameters
        ----------
        timeout
            Seconds to wait for the server to answer.

        Returns
        -------
        LocalTiled
            This object, started.

        Raises
        ------
        ServerAlreadyRunning
            If a server for the same directory runs already (its URI is named).
        TimeoutError
            If the server does not answer within ``timeout``; the message names
            the log file and quotes its last lines.
        RuntimeError
            If the server process exits before answering.
        """
        if self.running:
            return self
        began = time.monotonic()
        make_private_directory(self.directory)
        self._api_key = _load_or_create_key(self.key_file)
        make_private_directory(self.directory / DATA_DIRECTORY)
        self._acquire_lock()
        try:
            self._wait_for_orphan()
            for attempt in range(_PORT_ATTEMPTS):
                port = self._choose_port(fresh=attempt > 0)
                atomic_write(self.config_file, self._config_text(port).encode())
                log_offset = self._spawn(port)
                failure = self._wait_until_answering(port, log_offset, began + timeout)
                if failure is None:
                    break
                self._kill()
                if not (self.port == 0 and _port_was_taken(failure)):
                    raise RuntimeError(
                        f"the Tiled server for {str(self.directory)!r} exited before answering "
                        f"(port {port}); its log {str(self.log_file)!r} ends with:\n{failure}"
                    )
            else:
                raise RuntimeError(
                    f"no free port for the Tiled server after {_PORT_ATTEMPTS} attempts; see "
                    f"{str(self.log_file)!r}"
                )
            self._bound_port = port
            self._write_state()
        except BaseException:
            self._kill()
            self._release_lock()
            raise
        atexit.register(self.stop)
        self.start_seconds = time.monotonic() - began
        logger.info(
            "Tiled server for %s at %s answered after %.1f s (pid %s, log %s)",
            self.directory,
            self.uri,
            self.start_seconds,
            self.pid,
            self.log_file,
        )
        return self

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop the server: SIGTERM, then SIGKILL after ``timeout`` seconds; wait for it.

        Safe to call more than once, and on a server that has died.
        """
        atexit.unregister(self.stop)
        process = self._process
        if process is not None:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout)
                except subprocess.TimeoutExpired:
                    logger.warning(
                        "Tiled server pid %s ignored SIGTERM for %s s; killing it",
                        process.pid,
                        timeout,
                    )
                    self._kill()
            self._remove_state(process.pid)
            self._process = None
        self._release_lock()

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait for the server process to exit; its exit code, or None on timeout."""
        if self._process is None:
            return None
        try:
            return self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def __enter__(self) -> LocalTiled:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- internals ---------------------------------------------------------------

    def _acquire_lock(self) -> None:
        lock = FileLock(self.directory / LOCK_FILE, mode=FILE_MODE)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            state = _read_state(self.state_file)
            uri = state.get("uri") if state else None
            pid = state.get("pid") if state else None
            where = f"at {uri} (pid {pid})" if uri else "(it is still starting)"
            raise ServerAlreadyRunning(
                f"a Tiled server for {str(self.directory)!r} is already running {where}; "
                "connect to it (bluesky_timelapse.tiled.connect) or stop it first",
                self.directory,
                uri,
                pid,
            ) from None
        self._lock = lock

    def _release_lock(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _wait_for_orphan(self) -> None:
        """A server left by a process that died stops itself; give it time to go."""
        state = _read_state(self.state_file) or {}
        pid = state.get("pid")
        if not isinstance(pid, int):
            self.state_file.unlink(missing_ok=True)
            return
        deadline = time.monotonic() + STOP_TIMEOUT
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(pid) and _answers(str(state.get("uri", ""))):
            raise ServerAlreadyRunning(
                f"a Tiled server for {str(self.directory)!r} left by an earlier process is "
                f"still running at {state.get('uri')} (pid {pid}); stop it with 'kill {pid}'",
                self.directory,
                state.get("uri"),
                pid,
            )
        self.state_file.unlink(missing_ok=True)

    def _choose_port(self, *, fresh: bool) -> int:
        if self.port:
            if not _port_is_free(self.port):
                raise OSError(
                    errno.EADDRINUSE,
                    f"port {self.port} on {HOST} is in use; choose another port, or 0 for a "
                    "free one",
                )
            return self.port
        if self._bound_port and not fresh and _port_is_free(self._bound_port):
            return self._bound_port
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((HOST, 0))
            port: int = probe.getsockname()[1]
            return port

    def _config_text(self, port: int) -> str:
        storage = [str(path) for path in self.readable_storage]
        for path in self.readable_storage:  # frames may be named through a symlink
            if str(path.resolve()) not in storage:
                storage.append(str(path.resolve()))
        config = {
            "authentication": {
                "single_user_api_key": f"${{{_KEY_VARIABLE}}}",
                "allow_anonymous_access": False,
            },
            "catalog": {
                "uri": self.catalog or f"sqlite:///{self.directory / CATALOG_FILE}",
                # Initialising runs `tiled catalog init` in yet another process (~3 s);
                # a shared catalog is initialised by whichever server finds it empty.
                "init_if_not_exists": self.catalog is not None
                or not _has_content(self.directory / CATALOG_FILE),
                "writable_storage": [
                    str(self.directory / DATA_DIRECTORY),
                    self._tables_uri(),
                ],
                "readable_storage": storage + self._old_tables_uris(),
                "specs": [BLUESKY_RUNS_SPEC],
            },
            "media_types": {"BlueskyRun": {"application/json-seq": JSON_SEQ_EXPORTER}},
            "uvicorn": {"host": HOST, "port": port, "log_config": _log_config()},
            **self._storage_pool(),
        }
        header = (
            "# Written by bluesky-timelapse on every start of the embedded Tiled server;\n"
            "# edits are overwritten. The API key is in the file api_key, not here.\n"
        )
        return header + yaml.safe_dump(config, sort_keys=False)

    def _tables_uri(self) -> str:
        """Where event tables go: the PostgreSQL catalog's database, else SQLite here.

        Not DuckDB: Tiled shares one DuckDB connection among all the server's
        threads, which crashed the server (SIGSEGV) under three rigs writing at once.
        """
        if self.catalog is not None and self.catalog.startswith("postgresql"):
            return self.catalog.replace("postgresql+asyncpg://", "postgresql://", 1)
        return f"sqlite:///{self.directory / TABLES_FILE}"

    def _storage_pool(self) -> dict[str, int]:
        """Connections to the tables: one at a time for SQLite, Tiled's defaults else.

        Tiled opens SQLite with no busy timeout, so two connections writing at once
        fail with "database is locked" (HTTP 500). One pooled connection makes the
        server's threads take turns, each for one short statement.
        """
        if self._tables_uri().startswith("sqlite"):
            return dict(_ONE_TABLES_CONNECTION)
        return {}

    def _old_tables_uris(self) -> list[str]:
        """The DuckDB tables of a directory written before SQLite, if there are any.

        Runs recorded then keep their tables there (their catalog entries name the
        file); listed as readable storage, the file gets no new tables.
        """
        old = self.directory / DUCKDB_TABLES_FILE
        return [f"duckdb:///{old}"] if _has_content(old) else []

    def _spawn(self, port: int) -> int:
        """Start the child with its output appended to the log; return the log offset."""
        environment = {
            name: value for name, value in os.environ.items() if not name.startswith("TILED_")
        }  # Tiled lets TILED_* variables override the configuration file
        # Tiled reads a pool setting of 0 from the configuration as "use the
        # default", and takes the default from these variables.
        environment.update(
            {f"TILED_{name.upper()}": str(value) for name, value in self._storage_pool().items()}
        )
        environment[_PARENT_VARIABLE] = str(os.getpid())
        environment[_KEY_FILE_VARIABLE] = str(self.key_file)
        command = python_command(
            "bluesky_timelapse.tiled._server:_serve", "serve", "config", str(self.config_file)
        )
        log = os.open(self.log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
        try:
            if hasattr(os, "fchmod"):
                os.fchmod(log, FILE_MODE)
            offset = os.lseek(log, 0, os.SEEK_END)
            stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            os.write(log, f"--- {stamp} bluesky-timelapse: starting on {HOST}:{port}\n".encode())
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                cwd=self.directory,
                env=environment,
                start_new_session=True,
            )
        finally:
            os.close(log)
        return offset

    def _wait_until_answering(self, port: int, log_offset: int, deadline: float) -> str | None:
        """None once the server answers; the end of its log if it exited first."""
        assert self._process is not None
        url = f"http://{HOST}:{port}/api/v1/"
        with httpx.Client(trust_env=False, timeout=2.0) as http:
            while True:
                if self._process.poll() is not None:
                    return _log_tail(self.log_file, log_offset)
                with contextlib.suppress(httpx.HTTPError):
                    if http.get(url).status_code == 200 and self._process.poll() is None:
                        return None
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"the Tiled server for {str(self.directory)!r} did not answer at {url} "
                        f"in time; its log {str(self.log_file)!r} ends with:\n"
                        f"{_log_tail(self.log_file, log_offset)}"
                    )
                time.sleep(0.1)

    def _kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()

    def _write_state(self) -> None:
        assert self._process is not None
        state = {
            "pid": self._process.pid,
            "uri": self.uri,
            "started": datetime.now(UTC).isoformat(),
            "log": str(self.log_file),
        }
        atomic_write(self.state_file, json.dumps(state, indent=2).encode())

    def _remove_state(self, pid: int) -> None:
        state = _read_state(self.state_file)
        if state is not None and state.get("pid") == pid:
            self.state_file.unlink(missing_ok=True)


@contextlib.contextmanager
def local_tiled(directory: Path | str | None = None, **kwargs: Any) -> Iterator[LocalTiled]:
    """Run a :class:`LocalTiled` for the duration of a ``with`` block.

    Parameters
    ----------
    directory
        As for :class:`LocalTiled` (default ``DataDirectory.default().tiled``).
    **kwargs
        ``readable_storage`` and ``port``, as for :class:`LocalTiled`.

    Yields
    ------
    LocalTiled
        The started server; stopped when the block ends.
    """
    with LocalTiled(directory, **kwargs) as server:
        yield server


def find_local_tiled(directory: Path | str | None = None) -> TiledTarget | None:
    """URI and key of the embedded server running for ``directory``, or None.

    Another process may own the server (``bluesky-timelapse serve``); its
    ``server.json`` gives the URI and the key file gives the key.
    """
    directory = Path(directory if directory is not None else DataDirectory.default().tiled)
    state = _read_state(directory / STATE_FILE)
    if state is None or not isinstance(state.get("pid"), int) or not _alive(state["pid"]):
        return None
    try:
        key = (directory / KEY_FILE).read_text().strip()
    except OSError:
        return None
    return TiledTarget(str(state["uri"]), key)


# -- helpers ----------------------------------------------------------------------


def _load_or_create_key(path: Path) -> str:
    """The key in ``path``; a new random one written there (0600) if there is none."""
    with contextlib.suppress(FileExistsError):
        atomic_write(path, secrets.token_hex(32).encode(), exclusive=True)
    key = path.read_text().strip()
    if not key.isalnum():
        raise ValueError(
            f"the API key file {str(path)!r} does not hold a key; allowed: letters and digits "
            "only (delete the file to have a new key made)"
        )
    if hasattr(os, "fchmod") and path.stat().st_mode & 0o077:
        logger.warning("API key file %s was readable by others; set it to 0600", path)
        path.chmod(FILE_MODE)
    return key


def _log_config() -> dict[str, Any]:
    """Tiled's logging configuration, without colours, with times, with keys redacted."""
    from tiled.server.logging_config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"]["redact_api_key"] = {"()": f"{__name__}._RedactApiKeys"}
    for formatter in config["formatters"].values():
        formatter["use_colors"] = False
        formatter["format"] = "%(asctime)s " + formatter["format"]
        formatter["datefmt"] = "%Y-%m-%dT%H:%M:%S%z"
    for handler in config["handlers"].values():
        handler["filters"] = [*handler.get("filters", []), "redact_api_key"]
    return config


class _RedactApiKeys(logging.Filter):
    """Replace ``api_key=<value>`` in log records (a browser may put it in a URL)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _redact(arg) if isinstance(arg, str) else arg for arg in record.args
            )
        if isinstance(record.msg, str):
            record.msg = _redact(record.msg)
        return True


def _redact(text: str) -> str:
    return _API_KEY_IN_TEXT.sub(r"\1[redacted]", text)


def _serve() -> None:  # pragma: no cover - runs in the server process
    """Entry point of the child: ``tiled serve config`` with four additions.

    The API key is read from the key file into a variable of this process only,
    which ``config.yml`` names (Tiled expands variables in its configuration).
    Tiled's banner prints a ``?api_key=`` link (with a random key that is not the
    configured one); it is suppressed. The umask is 077, so the catalog, tables
    and array files the server writes are its user's only. A watchdog thread sends
    SIGTERM to this process when the process that started it has gone.
    """
    import tiled.server.app
    from tiled.commandline.main import main

    tiled.server.app.print_server_info = lambda *args, **kwargs: None
    os.umask(0o077)  # the catalog, tables and arrays it writes: for this user only
    parent = int(os.environ.pop(_PARENT_VARIABLE, "0"))
    os.environ[_KEY_VARIABLE] = Path(os.environ.pop(_KEY_FILE_VARIABLE)).read_text().strip()
    if parent:
        threading.Thread(
            target=_stop_when_orphaned, args=(parent,), name="orphan-watchdog", daemon=True
        ).start()
    main()


def _stop_when_orphaned(parent: int) -> None:  # pragma: no cover - runs in the server
    while os.getppid() == parent:
        time.sleep(1.0)
    os.kill(os.getpid(), signal.SIGTERM)


def _read_state(path: Path) -> dict[str, Any] | None:
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def _alive(pid: int) -> bool:
    """True if ``pid`` is a running process (a zombie is not: it has exited)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # no /proc here
        return True
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def _answers(uri: str) -> bool:
    try:
        httpx.get(f"{uri}/api/v1/", timeout=2.0, trust_env=False)
    except httpx.HTTPError:
        return False
    return True


def _has_content(path: Path) -> bool:
    try:
        return path.stat().st_size > 0
    except OSError:
        return False


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        if os.name == "posix":  # as uvicorn does: a closed connection's TIME_WAIT is no owner
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def _port_was_taken(log_tail: str) -> bool:
    return "address already in use" in log_tail.lower()


def _log_tail(path: Path, offset: int, lines: int = _LOG_TAIL_LINES) -> str:
    try:
        with path.open("rb") as log:
            log.seek(offset)
            text = log.read().decode(errors="replace")
    except OSError as err:
        return f"(cannot read the log: {err})"
    tail = text.splitlines()[-lines:]
    return "\n".join(f"    {line}" for line in tail) if tail else "    (empty)"
