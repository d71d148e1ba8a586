"""A :class:`~._forwarding.Forwarder` in a process of its own, so the RunEngine's has none of its work.

On a machine with few cores, a forwarding thread takes its CPU (TiledWriter's
schema validation, JSON, HTTP) from the RunEngine's thread through the interpreter
lock. The journal is on disk, so a child interpreter can follow it instead: the
sink tells the child which runs to forward (a JSON line each, over the child's
standard input, the API key included, never on a command line) and the child
reports back what became of them (JSON lines on its standard output), which the
sink turns into its health, its backlog and ``flush()``.

The child polls an open run's journal for new documents (every
:data:`POLL_INTERVAL` seconds while it has caught up) rather than being told of
each, so the RunEngine's thread writes nothing to the pipe per document and a
busy child can never make it wait. The child exits at once when the pipe from its
sink closes without a ``close`` message (the sink's process died): it never
forwards a run a new sink's child is replaying, and a lock in the journal
directory makes a new child wait until the old one is gone. If the child dies, the
sink starts another (after a backoff if it keeps dying), which sends the pending
runs again whole.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from filelock import FileLock

from .._child import JsonLinesChild, Message, parent_pipe
from ._forwarding import Forwarder, ForwardingReport

logger = logging.getLogger("bluesky_timelapse.callbacks")

POLL_INTERVAL = 0.05
"""Seconds between looks at an open run's journal once the child has caught up."""

FORWARDER_LOCK = ".forwarder.lock"
"""Held by the forwarding child: one child forwards from a journal directory at a time."""

REPORTS = frozenset(
    {"acknowledged", "unacknowledged", "connected", "failed", "done", "set_aside", "stopped"}
)
"""The :class:`~._forwarding.ForwardingReport` calls a child may make."""

QUICK_DEATH = 10.0
"""A child that dies within this many seconds of its start is restarted after a backoff."""


class ForwarderProcess:
    """Drive a forwarding child; the same calls as :class:`~._forwarding.Forwarder`.

    Parameters
    ----------
    settings
        The child's :class:`~._forwarding.Forwarder` settings: ``directory``, ``uri``,
        ``api_key``, ``spec_to_mimetype``, ``batch_size``, ``batch_interval``,
        ``retry_initial``, ``retry_max``, ``copy_frames`` (JSON-safe).
    report
        Given the child's reports, on a thread of this process.
    pending_runs
        Returns the runs not yet in Tiled, in order, as ``(uid, journal path,
        stopped)``: sent to a restarted child.
    """

    def __init__(
        self,
        settings: dict[str, Any],
        report: ForwardingReport,
        pending_runs: Any,
    ) -> None:
        self._settings = settings
        self._report = report
        self._pending_runs = pending_runs
        self._lock = threading.Lock()  # the pipe to the child, and the child itself
        self._child: JsonLinesChild | None = None
        self._closing = False
        self._stopped = False  # the child reported that forwarding ended for good
        self._restarts = 0  # quick deaths in a row, for the backoff
        with self._lock:
            self._start()

    # -- the Forwarder's calls -------------------------------------------------------

    def add_run(self, uid: str, path: Path, *, replay: bool, stopped: bool = False) -> None:
        """Have the child forward run ``uid`` after the runs added before."""
        self._send(
            {"op": "run", "uid": uid, "path": str(path), "replay": replay, "stopped": stopped}
        )

    def run_stopped(self, uid: str) -> None:
        """The run's stop document is in its journal."""
        self._send({"op": "stopped", "uid": uid})

    def documents_added(self) -> None:
        """Nothing to do: the child polls the open run's journal."""

    def close(self, timeout: float = 10.0) -> None:
        """Ask the child to stop after its current request; kill it after ``timeout``."""
        with self._lock:
            self._closing = True
            child, self._child = self._child, None
        if child is not None:
            child.close({"op": "close"}, timeout)

    @property
    def pid(self) -> int | None:
        """The forwarding child's process id while it runs."""
        child = self._child
        return child.pid if child is not None and child.running else None

    # -- the child, from here ----------------------------------------------------------

    def _start(self) -> None:
        """Start a child and give it its settings (with ``self._lock`` held)."""
        started = time.monotonic()
        child = JsonLinesChild(
            "bluesky_timelapse.callbacks._forwarder_process:main",
            self._received,
            on_exit=lambda code: self._exited(child, code, started),
            name="tiled-forwarder-reports",
        )
        child.start(self._settings)
        self._child = child

    def _send(self, message: dict[str, Any]) -> None:
        with self._lock:
            self._write(message)

    def _write(self, message: dict[str, Any]) -> None:
        """Send ``message`` to the child (with ``self._lock`` held).

        Nothing is sent while closing or restarting, nor to a dead child: the
        restart sends every pending run.
        """
        if self._child is not None:
            self._child.send(message)

    def _received(self, message: dict[str, Any]) -> None:
        if "log" in message:
            name, level, text = message["log"]
            logging.getLogger(name).log(level, "%s", text)
        elif message.get("report") in REPORTS:
            if message["report"] == "stopped":
                self._stopped = True
            getattr(self._report, message["report"])(*message["args"])

    def _exited(self, child: JsonLinesChild, code: int, started: float) -> None:
        with self._lock:
            if self._closing or self._stopped or self._child is not child:
                return
            self._child = None
        self._restart(code, started)

    def _restart(self, code: int, started: float) -> None:
        """The child died unasked: start another and give it every pending run again."""
        message = f"the forwarding process exited (code {code}); starting another"
        logger.warning("TiledSink: %s", message)
        self._report.failed(message)
        quick = time.monotonic() - started < QUICK_DEATH
        self._restarts = self._restarts + 1 if quick else 0
        if self._restarts:
            retry_max = self._settings["retry_max"]
            time.sleep(min(retry_max, self._settings["retry_initial"] * 2**self._restarts))
        with self._lock:
            if self._closing:
                return
            self._start()
            for uid, path, stopped in self._pending_runs():
                self._report.unacknowledged(uid)
                self._write(
                    {
                        "op": "run",
                        "uid": uid,
                        "path": str(path),
                        "replay": True,
                        "stopped": stopped,
                    }
                )


# -- the child ---------------------------------------------------------------------------


class _PipeReport:
    """A :class:`~._forwarding.ForwardingReport` that sends each call to the sink."""

    def __init__(self, reply: Callable[[Message], None]) -> None:
        self.send = reply

    def __getattr__(self, name: str) -> Any:
        if name not in REPORTS:
            raise AttributeError(name)
        return lambda *args: self.send({"report": name, "args": list(args)})


class _PipeLogHandler(logging.Handler):
    """Sends the child's log records to the sink, which logs them as its own."""

    def __init__(self, report: _PipeReport) -> None:
        super().__init__(logging.INFO)
        self._report = report

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._report.send({"log": [record.name, record.levelno, record.getMessage()]})
        except Exception:  # a log record must never break forwarding
            self.handleError(record)


def _client(uri: str, api_key: str | None) -> Any:
    from ..tiled import TiledTarget, connect

    loopback = urlsplit(uri).hostname in ("127.0.0.1", "localhost", "::1")
    return connect(TiledTarget(uri, api_key), trust_env=not loopback)


def _follow(requests: Iterator[Message], forwarder: Forwarder) -> None:
    """Apply the sink's messages; exit at once if the sink's end of the pipe closes."""
    for message in requests:
        op = message["op"]
        if op == "run":
            forwarder.add_run(
                message["uid"],
                Path(message["path"]),
                replay=message["replay"],
                stopped=message["stopped"],
            )
        elif op == "stopped":
            forwarder.run_stopped(message["uid"])
        elif op == "close":
            forwarder.close()
            return
    os._exit(0)  # the sink's process is gone: stop before a new sink's child starts


def main() -> None:
    """The child: read the settings, take the directory's lock, forward until told to stop."""
    requests, reply = parent_pipe()
    settings = next(requests)
    report = _PipeReport(reply)
    package_logger = logging.getLogger("bluesky_timelapse")
    package_logger.addHandler(_PipeLogHandler(report))
    package_logger.setLevel(logging.INFO)
    package_logger.propagate = False
    directory = Path(settings["directory"])
    lock = FileLock(directory / FORWARDER_LOCK, mode=0o600)
    lock.acquire()  # an old child exits as soon as its sink's pipe closes
    forwarder = Forwarder(
        directory,
        partial(_client, settings["uri"], settings["api_key"]),
        report,
        spec_to_mimetype=settings["spec_to_mimetype"],
        batch_size=settings["batch_size"],
        batch_interval=settings["batch_interval"],
        retry_initial=settings["retry_initial"],
        retry_max=settings["retry_max"],
        copy_frames=settings.get("copy_frames", True),
        poll_interval=POLL_INTERVAL,
    )
    threading.Thread(
        target=_follow, args=(requests, forwarder), name="sink-messages", daemon=True
    ).start()
    forwarder.run_forever()
    lock.release()
