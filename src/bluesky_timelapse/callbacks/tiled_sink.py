"""A durable way into Tiled: journal first, forward in the background, replay after a crash.

bluesky-tiled-plugins' ``TiledWriter`` is synchronous: every request blocks the
RunEngine, and an outage longer than its retries aborts the plan. ``TiledSink``
puts a local journal between the two. The RunEngine's cost per document is one
append to the run's journal file; a background thread feeds the journal to a
``TiledWriter`` (its document-to-node mapping is used as is), retrying with
backoff for as long as the server is away. Whatever happens to a run on the way
(an outage mid-run, a crash of this process), it is sent again whole: the partial
copy in Tiled is deleted first, so every run ends in Tiled exactly once, with its
stop document.
"""

from __future__ import annotations

import json
import logging
import math
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
from filelock import FileLock, Timeout

from ..persistence.atomic import atomic_write, make_private_directory
from ..specs import SPEC_TO_MIMETYPE
from .journal import SUFFIX, Entry, JournalReader, JournalSyncer, RunJournal, recover
from .tiled_batches import FlushableTiledWriter

logger = logging.getLogger(__name__)

MAX_REFUSALS = 3
"""Times Tiled may refuse a run (a 4xx answer, a bad document) before it is set aside."""

HEALTH_FILE = "health.json"
"""Where a sink publishes its health for other processes (``bluesky-timelapse status``)."""

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
    stopped: bool = False
    replay: bool = False  # a partial copy may be in Tiled: delete it before sending


class TiledSink:
    """A RunEngine callback that gets every document into Tiled, without blocking.

    Parameters
    ----------
    journal_directory
        Where the journal lives (one file per run); created 0700. One sink per
        directory at a time (a file lock says so).
    client
        A Tiled client, or a callable returning one (called, and called again
        after failures, on the forwarding thread, so an unreachable server at
        start only delays forwarding).
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

    Raises
    ------
    PermissionError
        If the journal directory cannot be written, before any run.
    RuntimeError
        If another sink (in this or another process) uses the directory.
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
    ) -> None:
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
        self._client_factory: ClientFactory = client if callable(client) else (lambda: client)
        self._client: Any = None
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

        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._new_documents = threading.Event()
        self._runs: dict[str, _Run] = {}
        self._pending: deque[str] = deque()  # run uids, in start order
        self._run_of: dict[str, str] = {}  # descriptor / resource uid -> run uid
        self._last_error: str | None = None
        self._connected = False
        self._closing = False
        self._syncer = JournalSyncer()
        self._recover_journals()
        self._thread = threading.Thread(
            target=self._forward_forever, name="tiled-sink", daemon=True
        )
        self._thread.start()

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
        # the RunEngine wait.
        run.journal.append(name, doc)  # the stop document closes the journal
        run.journaled_at.append(time.time())
        if name == "stop":
            self._forget_routes(run_uid)
            with self._lock:
                run.stopped = True
                self._wake.notify_all()
        self._new_documents.set()

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
                self._wake.notify_all()  # an idle forwarder starts on the run at once
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
        self._new_documents.set()
        self._thread.join(timeout=max(timeout, 1.0))
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
            run = _Run(uid, path, None, deque([mtime] * len(entries)), stopped=True, replay=True)
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

    # -- the forwarding thread -----------------------------------------------------

    def _forward_forever(self) -> None:
        failures = 0  # consecutive, for the backoff
        refusals = 0  # consecutive errors of the server's making, for the current run
        while True:
            with self._lock:
                while not self._pending and not self._closing:
                    self._wake.wait(timeout=2.0)
                    self._write_health_locked()
                if self._closing:
                    return
                run = self._runs[self._pending[0]]
            try:
                self._forward(run)
            except _Closing:
                return
            except Exception as error:
                failures += 1
                self._record_error(run, error, retrying=not _is_authentication_error(error))
                self._write_health()
                if _is_authentication_error(error):
                    logger.error(
                        "TiledSink: Tiled refused the API key (%s); forwarding stopped, the "
                        "journal in %s keeps every document",
                        error,
                        self.directory,
                    )
                    return
                if not _is_transient(error):
                    refusals += 1
                    if refusals >= MAX_REFUSALS:
                        self._set_aside(run, error)
                        refusals = 0
                        continue
                delay = min(self.retry_max, self.retry_initial * 2 ** min(failures, 16))
                with self._lock:
                    self._wake.wait_for(
                        lambda: self._closing, timeout=delay * random.uniform(0.5, 1)
                    )
                continue
            failures = refusals = 0
            self._done(run)
            run.path.unlink(missing_ok=True)
            self._write_health()

    def _done(self, run: _Run) -> None:
        with self._lock:
            self._pending.popleft()
            del self._runs[run.uid]
            self._last_error = None
            self._wake.notify_all()

    def _set_aside(self, run: _Run, error: Exception) -> None:
        """A run Tiled keeps refusing (not an outage): move its journal aside, go on."""
        failed = make_private_directory(self.directory / "refused")
        self._done(run)
        run.path.replace(failed / run.path.name)
        with self._lock:
            self._last_error = f"run {run.uid} refused by Tiled {MAX_REFUSALS} times: {error}"
        logger.error(
            "TiledSink: Tiled refused run %s %d times (%s); its journal is kept in %s and "
            "the next runs go on",
            run.uid,
            MAX_REFUSALS,
            error,
            failed,
        )

    def _forward(self, run: _Run) -> None:
        client = self._connect()
        if run.replay:
            _delete_run(client, run.uid)
        writer = FlushableTiledWriter(
            client, spec_to_mimetype=self.spec_to_mimetype, batch_size=self.batch_size
        )
        reader = JournalReader(run.path)
        fed = sent = 0  # fed to the writer; sent: also written (acknowledged) by Tiled
        flushed_at = -math.inf  # time.monotonic() of the last partial batch written
        try:
            while True:
                for entry in reader.read():
                    writer(entry.name, entry.doc)
                    fed += 1
                    self._connected = True
                    if entry.name == "stop":  # TiledWriter writes what is left
                        sent = self._acknowledge(run, fed, sent)
                        return
                # Caught up with the journal: write the partial batch, unless one was
                # written less than batch_interval ago (then what comes meanwhile
                # joins it), so batches form only while documents keep coming.
                wait = 0.5
                if fed > sent:
                    wait = flushed_at + self.batch_interval - time.monotonic()
                    if wait <= 0:
                        writer.flush()
                        sent = self._acknowledge(run, fed, sent)
                        flushed_at, wait = time.monotonic(), 0.5
                if self._closing:
                    raise _Closing
                if not run.stopped:
                    self._new_documents.wait(timeout=wait)
                    self._new_documents.clear()
        except BaseException:
            with self._lock:  # those documents count as unsent again
                run.journaled_at.extendleft([time.time()] * sent)
                run.replay = True
            raise
        finally:
            reader.close()

    @staticmethod
    def _acknowledge(run: _Run, fed: int, sent: int) -> int:
        """Count the documents fed since ``sent`` as written; return the new ``sent``."""
        for _ in range(fed - sent):
            run.journaled_at.popleft()  # deque operations are atomic
        return fed

    def _connect(self) -> Any:
        if self._client is None:
            self._client = self._client_factory()
            self._connected = True
        return self._client

    def _record_error(self, run: _Run, error: Exception, *, retrying: bool) -> None:
        message = f"{type(error).__name__}: {error}"
        with self._lock:
            first = self._last_error is None
            self._last_error = message
            self._connected = False
            self._client = None  # connect afresh
        if not retrying:
            return
        log = logger.warning if first else logger.debug
        log(
            "TiledSink: could not send run %s to Tiled (%s); it stays in the journal at %s "
            "and is sent again, whole, when Tiled answers",
            run.uid,
            message,
            self.directory,
        )

    def _write_health(self) -> None:
        with self._lock:
            self._write_health_locked()

    def _write_health_locked(self) -> None:
        data = json.dumps(asdict(self._measure())).encode()
        atomic_write(self.directory / HEALTH_FILE, data, durable=False)


class _Closing(Exception):
    """The sink is closing while a run is being forwarded."""


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


def _delete_run(client: Any, uid: str) -> None:
    """Delete what an earlier attempt left of run ``uid`` in Tiled (files stay on disk)."""
    try:
        node = client[uid]
    except KeyError:
        return
    node.delete(recursive=True, external_only=False)
    logger.info("TiledSink: deleted the partial copy of run %s in Tiled to send it whole", uid)


def _status_code(error: Exception) -> int | None:
    response = getattr(error, "response", None)
    code = getattr(response, "status_code", None)
    return code if isinstance(code, int) else None


def _is_authentication_error(error: Exception) -> bool:
    """Whether Tiled refused our credentials (retrying would not help)."""
    if _status_code(error) in (401, 403):
        return True
    # A rejected key leaves the client unauthenticated, which tiled reports so:
    return isinstance(error, RuntimeError) and "requires API key authentication" in str(error)


def _is_transient(error: Exception) -> bool:
    """An outage (no connection, timeout, server error), as opposed to a refusal."""
    if isinstance(error, httpx.TransportError | OSError | TimeoutError):
        return True
    code = _status_code(error)
    return code is not None and (code >= 500 or code in (408, 429))


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
