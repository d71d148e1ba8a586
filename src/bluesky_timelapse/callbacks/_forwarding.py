"""Forwarding journaled runs to Tiled: in order, whole, retried for as long as it takes.

A :class:`Forwarder` takes runs (their journal files) in start order and feeds each
to bluesky-tiled-plugins' ``TiledWriter``, following the file while the run is
still being acquired. A run that failed part-way, or that an earlier process may
have sent in part, is deleted from Tiled first and sent again whole, so each run
ends in Tiled exactly once, with its stop document. It runs on a thread of the
sink's process or in a process of its own (:mod:`._forwarder_process`); either way
it tells a :class:`ForwardingReport` what became of the documents.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx

from .._files import make_private_directory
from ..tiled import RunDocuments, SlotIndexWriter, TiledAuthenticationError
from ._journal import JournalReader
from ._tiled_batches import FlushableTiledWriter

logger = logging.getLogger("bluesky_timelapse.callbacks")

MAX_REFUSALS = 3
"""Times Tiled may refuse a run (a 4xx answer, a bad document) before it is set aside."""

REFUSED_DIRECTORY = "refused"
"""Where the journal of a run Tiled keeps refusing is moved (under the journal directory)."""

ClientFactory = Callable[[], Any]


class ForwardingReport(Protocol):
    """What a :class:`Forwarder` tells the sink about the runs it was given."""

    def acknowledged(self, run_uid: str, documents: int) -> None:
        """Tiled has ``documents`` more of the run's documents, in journal order."""

    def unacknowledged(self, run_uid: str) -> None:
        """The run will be sent again whole: its documents count as unsent again."""

    def connected(self) -> None:
        """A request to Tiled succeeded after a failure (or for the first time)."""

    def failed(self, message: str) -> None:
        """Forwarding failed (``message`` says why); the run is retried after a backoff."""

    def done(self, run_uid: str) -> None:
        """The whole run, stop included, is in Tiled; its journal is deleted."""

    def set_aside(self, run_uid: str, message: str) -> None:
        """Tiled kept refusing the run; its journal was moved aside, the next runs go on."""

    def stopped(self, message: str) -> None:
        """Tiled refused the credentials: forwarding has ended, the journal keeps the rest."""


@dataclass
class _Run:
    uid: str
    path: Path
    replay: bool  # a partial copy may be in Tiled: delete it before sending
    stopped: bool = False  # the stop document is in the journal


class _Closing(Exception):
    """The forwarder is closing while a run is being forwarded."""


class Forwarder:
    """Forward journaled runs to Tiled, one at a time, in the order they were added.

    Parameters
    ----------
    directory
        The journal directory (a refused run's journal goes to its ``refused/``).
    client_factory
        Returns a Tiled client; called again after every failure (connect afresh).
    report
        Told what becomes of the documents.
    spec_to_mimetype, batch_size, batch_interval, copy_frames
        As :class:`~bluesky_timelapse.callbacks.TiledSink`'s.
    retry_initial, retry_max
        Backoff between attempts after a failure (s), with jitter.
    poll_interval
        Seconds to wait for new documents of an open run before looking at its
        journal again, when :meth:`documents_added` is not called for each.
    """

    def __init__(
        self,
        directory: Path,
        client_factory: ClientFactory,
        report: ForwardingReport,
        *,
        spec_to_mimetype: dict[str, str],
        batch_size: int,
        batch_interval: float,
        retry_initial: float,
        retry_max: float,
        copy_frames: bool = True,
        poll_interval: float = 0.5,
    ) -> None:
        self.directory = directory
        self._client_factory = client_factory
        self._client: Any = None
        self._report = report
        self.spec_to_mimetype = spec_to_mimetype
        self.batch_size = batch_size
        self.batch_interval = batch_interval
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self.poll_interval = poll_interval
        self._index = SlotIndexWriter(copy_frames=copy_frames)
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._new_documents = threading.Event()
        self._runs: deque[_Run] = deque()
        self._closing = False
        self._connected = False

    # -- what the sink tells it ------------------------------------------------------

    def add_run(self, uid: str, path: Path, *, replay: bool, stopped: bool = False) -> None:
        """Forward run ``uid`` from its journal ``path`` after the runs added before.

        A run already waiting is not added twice.
        """
        with self._lock:
            if any(run.uid == uid for run in self._runs):
                return
            self._runs.append(_Run(uid, path, replay, stopped))
            self._wake.notify_all()  # an idle forwarder starts on the run at once

    def run_stopped(self, uid: str) -> None:
        """The run's stop document is in its journal: read to its end without waiting."""
        with self._lock:
            for run in self._runs:
                if run.uid == uid:
                    run.stopped = True
        self._new_documents.set()

    def documents_added(self) -> None:
        """New documents are in a journal: look now rather than at the next poll."""
        self._new_documents.set()

    def close(self) -> None:
        """Stop after the current request; what is not in Tiled stays in the journal."""
        with self._lock:
            self._closing = True
            self._wake.notify_all()
        self._new_documents.set()

    # -- the forwarding loop -----------------------------------------------------------

    def run_forever(self) -> None:
        """Forward runs until :meth:`close` (or until Tiled refuses the credentials)."""
        failures = 0  # consecutive, for the backoff
        refusals = 0  # consecutive errors of the server's making, for the current run
        while True:
            with self._lock:
                while not self._runs and not self._closing:
                    self._wake.wait()
                if self._closing:
                    return
                run = self._runs[0]
            try:
                self._forward(run)
            except _Closing:
                return
            except Exception as error:
                failures += 1
                self._failed(run, error, first=failures == 1)
                if _is_authentication_error(error):
                    message = (
                        f"Tiled refused the API key ({error}); forwarding stopped, the journal "
                        f"in {self.directory} keeps every document"
                    )
                    logger.error("TiledSink: %s", message)
                    self._report.stopped(message)
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
            with self._lock:
                self._runs.popleft()
            run.path.unlink(missing_ok=True)
            self._report.done(run.uid)

    def _forward(self, run: _Run) -> None:
        client = self._connect()
        if run.replay:
            _delete_run(client, run.uid)
        writer = FlushableTiledWriter(
            client, spec_to_mimetype=self.spec_to_mimetype, batch_size=self.batch_size
        )
        reader = JournalReader(run.path)
        documents = RunDocuments()
        fed = sent = 0  # fed to the writer; sent: also written (acknowledged) by Tiled
        flushed_at = -math.inf  # time.monotonic() of the last partial batch written
        try:
            while True:
                for entry in reader.read():
                    documents(entry.name, entry.doc)
                    if entry.name == "start":
                        self._index.prepare(client, entry.doc)
                    writer(entry.name, entry.doc)
                    fed += 1
                    if entry.name == "stop":  # TiledWriter writes what is left
                        # The slot's index row, before the run counts as sent.
                        self._index.record(client, documents)
                        sent = self._acknowledge(run, fed, sent)
                        return
                # Caught up with the journal: write the partial batch, unless one was
                # written less than batch_interval ago (then what comes meanwhile
                # joins it), so batches form only while documents keep coming.
                wait = self.poll_interval
                if fed > sent:
                    wait = flushed_at + self.batch_interval - time.monotonic()
                    if wait <= 0:
                        writer.flush()
                        sent = self._acknowledge(run, fed, sent)
                        flushed_at, wait = time.monotonic(), self.poll_interval
                if self._closing:
                    raise _Closing
                if not run.stopped:
                    self._new_documents.wait(timeout=min(wait, self.poll_interval))
                    self._new_documents.clear()
        except BaseException:
            run.replay = True
            if sent:
                self._report.unacknowledged(run.uid)
            raise
        finally:
            reader.close()

    def _acknowledge(self, run: _Run, fed: int, sent: int) -> int:
        """Report the documents fed since ``sent`` as written; return the new ``sent``."""
        if fed > sent:
            if not self._connected:
                self._connected = True
                self._report.connected()
            self._report.acknowledged(run.uid, fed - sent)
        return fed

    def _connect(self) -> Any:
        if self._client is None:
            self._client = self._client_factory()
        return self._client

    def _failed(self, run: _Run, error: Exception, *, first: bool) -> None:
        message = f"{type(error).__name__}: {error}"
        self._client = None  # connect afresh
        self._index.forget()  # what Tiled holds is read again
        self._connected = False
        self._report.failed(message)
        if first and _is_transient(error):
            logger.warning(
                "TiledSink: could not send run %s to Tiled (%s); it stays in the journal at "
                "%s and is sent again, whole, when Tiled answers",
                run.uid,
                message,
                self.directory,
            )

    def _set_aside(self, run: _Run, error: Exception) -> None:
        """A run Tiled keeps refusing (not an outage): move its journal aside, go on."""
        refused = make_private_directory(self.directory / REFUSED_DIRECTORY)
        with self._lock:
            self._runs.popleft()
        run.path.replace(refused / run.path.name)
        logger.error(
            "TiledSink: Tiled refused run %s %d times (%s); its journal is kept in %s and "
            "the next runs go on",
            run.uid,
            MAX_REFUSALS,
            error,
            refused,
        )
        self._report.set_aside(
            run.uid, f"run {run.uid} refused by Tiled {MAX_REFUSALS} times: {error}"
        )


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
    if isinstance(error, TiledAuthenticationError) or _status_code(error) in (401, 403):
        return True
    # A rejected key leaves the client unauthenticated, which tiled reports so:
    return isinstance(error, RuntimeError) and "requires API key authentication" in str(error)


def _is_transient(error: Exception) -> bool:
    """An outage (no connection, timeout, server error), as opposed to a refusal."""
    if _is_authentication_error(error):
        return False
    if isinstance(error, httpx.TransportError | OSError | TimeoutError):
        return True
    code = _status_code(error)
    return code is not None and (code >= 500 or code in (408, 429))
