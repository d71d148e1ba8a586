"""A :class:`~.forwarding.Forwarder` in a process of its own, so the RunEngine's has none of its work.

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

import json
import logging
import os
import subprocess
import sys
import threading
import time
from functools import partial
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from filelock import FileLock

from .forwarding import Forwarder, ForwardingReport

logger = logging.getLogger(__name__)

POLL_INTERVAL = 0.05
"""Seconds between looks at an open run's journal once the child has caught up."""

FORWARDER_LOCK = ".forwarder.lock"
"""Held by the forwarding child: one child forwards from a journal directory at a time."""

REPORTS = frozenset(
    {"acknowledged", "unacknowledged", "connected", "failed", "done", "set_aside", "stopped"}
)
"""The :class:`~.forwarding.ForwardingReport` calls a child may make."""

QUICK_DEATH = 10.0
"""A child that dies within this many seconds of its start is restarted after a backoff."""


class ForwarderProcess:
    """Drive a forwarding child; the same calls as :class:`~.forwarding.Forwarder`.

    Parameters
    ----------
    settings
        The child's :class:`~.forwarding.Forwarder` settings: ``directory``, ``uri``,
        ``api_key``, ``spec_to_mimetype``, ``batch_size``, ``batch_interval``,
        ``retry_initial``, ``retry_max`` (JSON-safe).
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
        self._process: subprocess.Popen[bytes] | None = None
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
            process, self._process = self._process, None
        if process is None:
            return
        assert process.stdin is not None
        try:
            process.stdin.write(b'{"op": "close"}\n')
            process.stdin.close()
            process.wait(timeout=timeout)
        except (OSError, subprocess.TimeoutExpired):
            process.kill()
            process.wait()

    # -- the child, from here ----------------------------------------------------------

    def _start(self) -> None:
        """Start a child and give it its settings (with ``self._lock`` held)."""
        process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from bluesky_timelapse.callbacks.forwarder_process import main; main()",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert process.stdin is not None
        process.stdin.write(json.dumps(self._settings).encode() + b"\n")
        process.stdin.flush()
        self._process = process
        threading.Thread(
            target=self._read, args=(process, time.monotonic()), name="tiled-forwarder-reports",
            daemon=True,
        ).start()  # fmt: skip

    def _send(self, message: dict[str, Any]) -> None:
        with self._lock:
            self._write(message)

    def _write(self, message: dict[str, Any]) -> None:
        """Send ``message`` to the child (with ``self._lock`` held)."""
        process = self._process
        if process is None or process.stdin is None:
            return  # closing, or restarting: the restart sends every pending run
        try:
            process.stdin.write(json.dumps(message).encode() + b"\n")
            process.stdin.flush()
        except OSError:
            pass  # the child died: its reports' reader restarts it

    def _read(self, process: subprocess.Popen[bytes], started: float) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            try:
                message = json.loads(line)
            except ValueError:
                logger.warning("TiledSink: the forwarding process said %r", line[:200])
                continue
            if "log" in message:
                name, level, text = message["log"]
                logging.getLogger(name).log(level, "%s", text)
            elif message.get("report") in REPORTS:
                if message["report"] == "stopped":
                    self._stopped = True
                getattr(self._report, message["report"])(*message["args"])
        code = process.wait()
        with self._lock:
            if self._closing or self._stopped or self._process is not process:
                return
            self._process = None
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
    """A :class:`~.forwarding.ForwardingReport` that writes each call to the sink's pipe."""

    def __init__(self, replies: IO[bytes]) -> None:
        self._replies = replies
        self._lock = threading.Lock()

    def send(self, message: dict[str, Any]) -> None:
        line = json.dumps(message).encode() + b"\n"
        with self._lock:
            self._replies.write(line)
            self._replies.flush()

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
    from ..tiled.connect import TiledTarget, connect

    loopback = urlsplit(uri).hostname in ("127.0.0.1", "localhost", "::1")
    return connect(TiledTarget(uri, api_key), trust_env=not loopback)


def _follow(requests: IO[bytes], forwarder: Forwarder) -> None:
    """Apply the sink's messages; exit at once if the sink's end of the pipe closes."""
    for line in requests:
        message = json.loads(line)
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
    requests, replies = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # the pipe to the sink carries the protocol only
    settings = json.loads(requests.readline())
    report = _PipeReport(replies)
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
        poll_interval=POLL_INTERVAL,
    )
    threading.Thread(
        target=_follow, args=(requests, forwarder), name="sink-messages", daemon=True
    ).start()
    forwarder.run_forever()
    lock.release()
