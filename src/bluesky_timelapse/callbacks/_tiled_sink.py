"""A durable way into Tiled: journal first, forward in the background, replay after a crash.

bluesky-tiled-plugins' ``TiledWriter`` is synchronous: every request blocks the
RunEngine, and an outage longer than its retries aborts the plan. ``TiledSink``
puts a local journal between the two. The RunEngine's cost per document is one
append to the run's journal file; a forwarder in a process of its own (or on a
thread) feeds the journal to a ``TiledWriter`` (its document-to-node mapping is
used as is), retrying with backoff for as long as the server is away. Whatever happens to a run on the way
(an outage mid-run, a crash of this process), it is sent again whole: the partial
copy in Tiled is deleted first, so every run ends in Tiled exactly once, with its
stop document.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from filelock import FileLock, Timeout

from .._files import atomic_write
from ..specs import SPEC_TO_MIMETYPE
from ..tiled import TiledTarget
from ._forwarder_process import ForwarderProcess
from ._forwarding import Forwarder
from ._journal import SUFFIX, Entry, JournalSyncer, RunJournal, recover

logger = logging.getLogger("bluesky_timelapse.callbacks")

HEALTH_FILE = "health.json"
"""Where a sink publishes its health for other processes (``bluesky-timelapse status``)."""

HEALTH_INTERVAL = 2.0
"""Seconds between publications of the health (also published at once on every change of run)."""

FORWARD_IN = ("process", "thread")
"""Where a sink's forwarder may run."""

ClientFactory = Callable[[], Any]


@dataclass(frozen=True)
class SinkHealth:
    """How far behind a sink is.

    Attributes
    ----------
    queue_depth
        Documents journaled and not yet acknowledged by Tiled.
    oldest_unsent_age
        Seconds since the oldest of them was journaled; None if there is none.
    runs_pending
        Runs not yet completely in Tiled.
    last_error
        The latest forwarding error, cleared once forwarding succeeds again.
    connected
        Whether the latest request to Tiled succeeded.
    updated
        When this was measured (Unix time).
    """

    queue_depth: int
    oldest_unsent_age: float | None
    runs_pending: int
    last_error: str | None
    connected: bool
    updated: float


@dataclass
class _Run:
    uid: str
    path: Path
    journal: RunJournal | None  # None for a run recovered from an earlier process
    journaled_at: deque[float] = field(default_factory=deque)  # one per unsent document
    acknowledged: int = 0  # documents Tiled has, counted since the run was last (re)sent
    stopped: bool = False


class TiledSink:
    """A RunEngine callback that gets every document into Tiled, without blocking.

    Parameters
    ----------
    journal_directory
        Where the journal lives (one file per run); created 0700. One sink per
        directory at a time (a file lock says so).
    client
        Where to forward: a :class:`~bluesky_timelapse.tiled.TiledTarget` (URI and
        API key; :attr:`LocalTiled.target <bluesky_timelapse.tiled.LocalTiled.target>`
        for the embedded server), a Tiled client (its URI and key are used), or,
        with ``forward_in="thread"`` only, a callable returning a client. The
        forwarder connects itself, and again after failures, so an unreachable
        server at start only delays forwarding.
    spec_to_mimetype
        Passed to ``TiledWriter``, on top of this package's own specs.
    batch_size
        The most events ``TiledWriter`` writes in one request (>= 1). A partial
        batch is written as soon as the forwarder has caught up with the journal,
        so events wait for a batch only while Tiled is behind, and then one request
        carries many of them (a fraction of the server's cost of one each).
    batch_interval
        Seconds a partial batch waits at least after the previous one (0 to 60):
        while documents keep coming, they join one request instead of many small
        ones; an event waits at most this long for it.
    fsync_every, fsync_interval
        The journal is fsynced every ``fsync_every`` documents, every
        ``fsync_interval`` seconds and after every stop document, on a thread of
        its own: the RunEngine's thread only appends.
    retry_initial, retry_max
        Backoff between forwarding attempts after a failure (s).
    copy_frames
        Whether the index of each timelapse (``timelapses/<timelapse_id>`` beside
        the runs, one row per slot, see :doc:`/tiled`) also gets a copy of every
        slot's frames, in one array per field, so that
        :func:`~bluesky_timelapse.tiled.load` reads many frames in one request.
        False: only the rows (frames are then read from each run, one request each).
    forward_in
        ``"process"`` (default): the forwarder runs in a child process that follows
        the journal, so this process (the RunEngine's) spends no CPU on TiledWriter,
        JSON and HTTP; it is restarted if it dies. ``"thread"``: on a thread of this
        process (needed for a client factory).

    Raises
    ------
    PermissionError
        If the journal directory cannot be written, before any run.
    RuntimeError
        If another sink (in this or another process) uses the directory.
    ValueError
        If an option is out of range, or ``client`` cannot be used where
        ``forward_in`` says (the message names the value and what is allowed).
    """

    def __init__(
        self,
        journal_directory: Path | str,
        client: Any,
        *,
        spec_to_mimetype: dict[str, str] | None = None,
        batch_size: int = 50,
        batch_interval: float = 0.2,
        fsync_every: int = 100,
        fsync_interval: float = 1.0,
        retry_initial: float = 0.5,
        retry_max: float = 30.0,
        forward_in: Literal["process", "thread"] = "process",
        copy_frames: bool = True,
    ) -> None:
        if forward_in not in FORWARD_IN:
            raise ValueError(
                f"forward_in {forward_in!r} is invalid; allowed: {', '.join(map(repr, FORWARD_IN))}"
            )
        target = _target_of(client) if forward_in == "process" else None
        self.spec_to_mimetype = {**SPEC_TO_MIMETYPE, **(spec_to_mimetype or {})}
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size {batch_size!r} is invalid; allowed: an integer >= 1")
        self.batch_size = batch_size
        if (
            isinstance(batch_interval, bool)
            or not isinstance(batch_interval, int | float)
            or not 0 <= batch_interval <= 60
        ):
            raise ValueError(
                f"batch_interval {batch_interval!r} is invalid; allowed: seconds from 0 to 60"
            )
        self.batch_interval = float(batch_interval)
        self.fsync_every = fsync_every
        self.fsync_interval = fsync_interval
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        if not isinstance(copy_frames, bool):
            raise ValueError(f"copy_frames {copy_frames!r} is invalid; allowed: True or False")
        self.copy_frames = copy_frames
        self.directory = Path(journal_directory)
        _prepare_directory(self.directory)
        self._lock_file = FileLock(self.directory / ".lock", mode=0o600)
        try:
            self._lock_file.acquire(timeout=0)
        except Timeout:
            raise RuntimeError(
                f"journal directory {str(self.directory)!r} is in use by another TiledSink; "
                "give each sink (each RunEngine process) its own directory"
            ) from None

        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._runs: dict[str, _Run] = {}
        self._pending: deque[str] = deque()  # run uids, in start order
        self._run_of: dict[str, str] = {}  # descriptor / resource uid -> run uid
        self._last_error: str | None = None
        self._connected = False
        self._closing = False
        self._syncer = JournalSyncer()
        self._recover_journals()
        report = _SinkReport(self)
        self._thread: threading.Thread | None = None
        self._forwarder: Forwarder | ForwarderProcess
        if target is not None:
            self._forwarder = ForwarderProcess(
                {
                    "directory": str(self.directory),
                    "uri": target.uri,
                    "api_key": target.api_key,
                    "spec_to_mimetype": self.spec_to_mimetype,
                    "batch_size": self.batch_size,
                    "batch_interval": self.batch_interval,
                    "retry_initial": self.retry_initial,
                    "retry_max": self.retry_max,
                    "copy_frames": self.copy_frames,
                },
                report,
                self._pending_runs,
            )
        else:
            factory: ClientFactory = client if callable(client) else (lambda: client)
            self._forwarder = Forwarder(
                self.directory,
                factory,
                report,
                spec_to_mimetype=self.spec_to_mimetype,
                batch_size=self.batch_size,
                batch_interval=self.batch_interval,
                retry_initial=self.retry_initial,
                retry_max=self.retry_max,
                copy_frames=self.copy_frames,
            )
            self._thread = threading.Thread(
                target=self._forwarder.run_forever, name="tiled-sink", daemon=True
            )
            self._thread.start()
        for uid in list(self._pending):
            run = self._runs[uid]
            self._forwarder.add_run(uid, run.path, replay=True, stopped=True)
        self._publisher = threading.Thread(
            target=self._publish_health, name="tiled-sink-health", daemon=True
        )
        self._publisher.start()

    # -- the RunEngine's side ------------------------------------------------------

    def __call__(self, name: str, doc: dict[str, Any]) -> None:
        """Journal one document (the RunEngine's whole cost) and wake the forwarder."""
        run_uid = self._route(name, doc)
        if run_uid is None:
            return
        run = self._runs.get(run_uid)
        if run is None or run.journal is None or run.stopped:
            logger.info(
                "TiledSink: %s document for run %s ignored: the run is %s",
                name,
                run_uid,
                "closed already" if run is not None else "not one this sink has open",
            )
            return
        # Only this thread writes the journal: no lock, so the forwarder never makes
        # the RunEngine wait. The document counts as unsent before the forwarder can
        # see it, so its acknowledgement always finds it.
        run.journaled_at.append(time.time())
        try:
            run.journal.append(name, doc)  # the stop document closes the journal
        except BaseException:
            run.journaled_at.pop()
            raise
        if name == "start":
            self._forwarder.add_run(run_uid, run.path, replay=False)
        elif name == "stop":
            self._forget_routes(run_uid)
            with self._lock:
                run.stopped = True
            self._forwarder.run_stopped(run_uid)
        else:
            self._forwarder.documents_added()

    def _route(self, name: str, doc: dict[str, Any]) -> str | None:
        if name == "start":
            uid: str = doc["uid"]
            path = self.directory / f"{uid}{SUFFIX}"
            with self._lock:
                journal = RunJournal(
                    path,
                    fsync_every=self.fsync_every,
                    fsync_interval=self.fsync_interval,
                    syncer=self._syncer,
                )
                self._runs[uid] = _Run(uid, path, journal)
                self._pending.append(uid)
            return uid
        if name in ("descriptor", "resource", "stream_resource", "stop"):
            run_uid: str = doc["run_start"]
            if name != "stop":
                self._run_of[doc["uid"]] = run_uid
            return run_uid
        key = {
            "event": "descriptor",
            "event_page": "descriptor",
            "stream_datum": "descriptor",
            "datum": "resource",
            "datum_page": "resource",
        }.get(name)
        if key is None:
            logger.warning("TiledSink: unknown document name %r ignored", name)
            return None
        run_uid_or_none = self._run_of.get(doc[key])
        if run_uid_or_none is None:
            logger.warning("TiledSink: %s refers to unknown %s %s", name, key, doc[key])
        return run_uid_or_none

    def _forget_routes(self, run_uid: str) -> None:
        for key in [key for key, run in self._run_of.items() if run == run_uid]:
            del self._run_of[key]

    # -- health and lifecycle ------------------------------------------------------

    def health(self) -> SinkHealth:
        """Backlog and errors, now."""
        with self._lock:
            return self._measure()

    def _measure(self) -> SinkHealth:
        runs = [self._runs[uid] for uid in self._pending]
        depth = sum(len(run.journaled_at) for run in runs)
        oldest = min(filter(None, (_first(run.journaled_at) for run in runs)), default=None)
        now = time.time()
        return SinkHealth(
            queue_depth=depth,
            oldest_unsent_age=None if oldest is None else now - oldest,
            runs_pending=len(runs),
            last_error=self._last_error,
            connected=self._connected,
            updated=now,
        )

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every journaled run is in Tiled; False if ``timeout`` ran out."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while self._pending:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._wake.wait(remaining if remaining is not None else 1.0)
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Forward what can be forwarded within ``timeout``, then stop.

        What is left stays in the journal; a sink on the same directory sends it.
        """
        self.flush(timeout)
        with self._lock:
            self._closing = True
            for run in self._runs.values():
                if run.journal is not None:
                    run.journal.close()
            self._wake.notify_all()
        if isinstance(self._forwarder, ForwarderProcess):
            self._forwarder.close(timeout=max(timeout, 1.0))
        else:
            self._forwarder.close()
            if self._thread is not None:
                self._thread.join(timeout=max(timeout, 1.0))
        self._publisher.join()
        self._syncer.close()
        self._write_health()
        self._lock_file.release()

    def __enter__(self) -> TiledSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- recovery ------------------------------------------------------------------

    def _recover_journals(self) -> None:
        journals = sorted(self.directory.glob(f"*{SUFFIX}"), key=lambda p: p.stat().st_mtime)
        for path in journals:
            entries = recover(path)
            if not entries or entries[0].name != "start":
                logger.warning("TiledSink: %s has no start document; left as it is", path)
                continue
            uid = entries[0].doc["uid"]
            if not any(entry.name == "stop" for entry in entries):
                self._append_abort_stop(path, uid)
                entries.append(Entry("stop", {}))
            mtime = path.stat().st_mtime
            run = _Run(uid, path, None, deque([mtime] * len(entries)), stopped=True)
            self._runs[uid] = run
            self._pending.append(uid)
            logger.info("TiledSink: run %s (%d documents) will be sent again", uid, len(entries))

    @staticmethod
    def _append_abort_stop(path: Path, run_uid: str) -> None:
        stop = {
            "uid": str(uuid.uuid4()),
            "time": time.time(),
            "run_start": run_uid,
            "exit_status": "abort",
            "reason": (
                "the process acquiring this run ended without closing it; closed by the "
                "TiledSink that replayed its journal"
            ),
            "num_events": {},
        }
        journal = RunJournal(path, fsync_every=1)
        journal.append("stop", stop)
        journal.close()
        logger.warning("TiledSink: run %s had no stop document; closed it with 'abort'", run_uid)

    def _pending_runs(self) -> list[tuple[str, Path, bool]]:
        """The runs not yet in Tiled, in order: ``(uid, journal path, stopped)``."""
        with self._lock:
            return [(uid, self._runs[uid].path, self._runs[uid].stopped) for uid in self._pending]

    # -- what the forwarder reports ------------------------------------------------

    def _acknowledged(self, run_uid: str, documents: int) -> None:
        with self._lock:
            run = self._runs.get(run_uid)
            if run is None:
                return
            for _ in range(min(documents, len(run.journaled_at))):
                run.journaled_at.popleft()
            run.acknowledged += documents

    def _unacknowledged(self, run_uid: str) -> None:
        with self._lock:
            run = self._runs.get(run_uid)
            if run is not None:  # those documents count as unsent again
                run.journaled_at.extendleft([time.time()] * run.acknowledged)
                run.acknowledged = 0

    def _connected_again(self) -> None:
        with self._lock:
            self._connected = True

    def _failed(self, message: str) -> None:
        with self._lock:
            self._last_error = message
            self._connected = False
        self._write_health()

    def _finished(self, run_uid: str, error: str | None) -> None:
        """The run is in Tiled (``error`` None) or set aside: no longer pending."""
        with self._lock:
            if run_uid in self._runs:
                self._pending.remove(run_uid)
                del self._runs[run_uid]
            self._last_error = error
            self._wake.notify_all()
        self._write_health()

    def _publish_health(self) -> None:
        """Publish the health every :data:`HEALTH_INTERVAL` seconds until closed."""
        while True:
            with self._lock:
                if self._wake.wait_for(lambda: self._closing, timeout=HEALTH_INTERVAL):
                    return
            try:
                self._write_health()
            except OSError as err:  # a full disk must not end the publishing
                logger.warning("TiledSink: cannot publish the health: %s", err)

    def _write_health(self) -> None:
        with self._lock:
            data = json.dumps(asdict(self._measure())).encode()
        atomic_write(self.directory / HEALTH_FILE, data, durable=False)


class _SinkReport:
    """The :class:`~._forwarding.ForwardingReport` of a :class:`TiledSink`."""

    def __init__(self, sink: TiledSink) -> None:
        self._sink = sink

    def acknowledged(self, run_uid: str, documents: int) -> None:
        self._sink._acknowledged(run_uid, documents)

    def unacknowledged(self, run_uid: str) -> None:
        self._sink._unacknowledged(run_uid)

    def connected(self) -> None:
        self._sink._connected_again()

    def failed(self, message: str) -> None:
        self._sink._failed(message)

    def done(self, run_uid: str) -> None:
        self._sink._finished(run_uid, None)

    def set_aside(self, run_uid: str, message: str) -> None:
        self._sink._finished(run_uid, message)

    def stopped(self, message: str) -> None:
        self._sink._failed(message)


def _first(times: deque[float]) -> float | None:
    """The oldest time, or None (the forwarder may take it away at any moment)."""
    try:
        return times[0]
    except IndexError:
        return None


def read_health(journal_directory: Path | str) -> SinkHealth | None:
    """The health a sink last published in ``journal_directory`` (None if none)."""
    path = Path(journal_directory) / HEALTH_FILE
    try:
        return SinkHealth(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def _target_of(client: Any) -> TiledTarget:
    """Where a forwarding process connects to: ``client`` as a target, or its URI and key."""
    if isinstance(client, TiledTarget):
        if client.uri is None:
            raise ValueError(
                f"client {client!r} has no URI; a forwarding process needs one (for the "
                "embedded server: LocalTiled(...).target)"
            )
        return client
    uri = getattr(client, "uri", None)
    context = getattr(client, "context", None)
    if not isinstance(uri, str) or context is None:
        raise ValueError(
            f"client {client!r} is neither a TiledTarget nor a Tiled client; allowed: a "
            "TiledTarget or a Tiled client, or a callable returning a client with "
            "forward_in='thread'"
        )
    return TiledTarget(uri, getattr(context, "api_key", None))


def _prepare_directory(directory: Path) -> None:
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        directory.chmod(0o700)  # exact mode whatever the umask
        probe = directory / f".probe-{uuid.uuid4().hex}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise PermissionError(
            f"cannot keep a journal in {str(directory)!r}: {err.strerror}; give a writable "
            "journal directory"
        ) from err
