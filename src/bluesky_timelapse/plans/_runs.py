"""Watching the runs an inner plan opens and closes, and closing orphaned runs.

A run opened by a process that then died never gets its stop document. The
session that resumes the timelapse closes it, so no reader ever sees a run that
never ends. For that the run's uid must be in the store before any callback can
have seen the run: :func:`install_commands` subscribes a hook that records it
from the start document, and must be called before the other callbacks are
subscribed (the RunEngine calls its callbacks in the order they subscribed). It
also registers the RunEngine command that emits the orphan's stop document.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any
from uuid import uuid4

from bluesky.utils import Msg, MsgGenerator
from event_model import DocumentNames, schema_validators

CLOSE_ORPHANED_RUN = "timelapse_close_orphaned_run"
"""The RunEngine command that emits a stop document for a run of a dead process."""

_INSTALLED = "_bluesky_timelapse_installed"


class _RunTracker:
    """Tells each slot when its run opens and closes, from the documents themselves.

    Subscribed to start and stop documents by :func:`install_commands`. It sees a
    stop document the RunEngine emits on its own (on ``RE.halt()``) after the plan
    is gone, which the plan itself never could.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._expected: dict[
            tuple[str, int], tuple[Callable[[str], None], Callable[[], None]]
        ] = {}
        self._open: dict[str, Callable[[], None]] = {}

    @contextmanager
    def expect(
        self,
        timelapse_id: str,
        slot_index: int,
        *,
        on_open: Callable[[str], None],
        on_close: Callable[[], None],
    ) -> Iterator[None]:
        """While inside, a start document of this slot calls ``on_open(uid)``; its
        run's stop document will call ``on_close()``, whenever it comes."""
        key = (timelapse_id, slot_index)
        with self._lock:
            self._expected[key] = (on_open, on_close)
        try:
            yield
        finally:
            with self._lock:
                self._expected.pop(key, None)

    def __call__(self, name: str, doc: dict[str, Any]) -> None:
        if name == "start":
            key = (doc.get("timelapse_id"), doc.get("slot_index"))
            with self._lock:
                callbacks = self._expected.get(key)  # type: ignore[arg-type]
                if callbacks is not None:
                    self._open[doc["uid"]] = callbacks[1]
            if callbacks is not None:
                callbacks[0](doc["uid"])
        elif name == "stop":
            with self._lock:
                on_close = self._open.pop(doc["run_start"], None)
            if on_close is not None:
                on_close()


run_tracker = _RunTracker()
"""Where :func:`~bluesky_timelapse.plans._timelapse` announces the runs it is about
to open, so their uid is stored before any later callback sees them."""


def watch_runs(
    plan: MsgGenerator[Any],
    *,
    on_open: Callable[[str], None],
    on_close: Callable[[], None],
) -> Generator[Msg, Any, Any]:
    """Pass ``plan`` through, calling ``on_open(uid)`` and ``on_close()`` for its run.

    ``on_open`` is called with the run's uid as soon as the RunEngine opened it;
    ``on_close`` once the RunEngine has emitted its stop document.
    """
    messages = iter(plan)
    reply: Any = None
    error: BaseException | None = None
    while True:
        try:
            msg = messages.throw(error) if error is not None else messages.send(reply)
        except StopIteration as done:
            return done.value
        error = None
        try:
            reply = yield msg
        except GeneratorExit:
            messages.close()
            raise
        except BaseException as raised:
            error = raised
            continue
        if msg.command == "open_run":
            on_open(reply)
        elif msg.command == "close_run":
            on_close()


def close_orphaned_run(run_uid: str, reason: str) -> MsgGenerator[str]:
    """Emit the stop document of a run opened by a process that died.

    Yields
    ------
    Msg
        A :data:`CLOSE_ORPHANED_RUN` message; the RunEngine must have the command
        (see :func:`install_commands`), else it throws ``InvalidCommand``.
    """
    stop_uid: str = yield Msg(CLOSE_ORPHANED_RUN, None, run_uid, reason)
    return stop_uid


def install_commands(engine: Any) -> None:
    """Prepare ``engine`` for timelapses; call it before subscribing other callbacks.

    Subscribes the hook that stores each slot's run uid as the run starts (before
    the callbacks subscribed after it see the run) and notes its stop document,
    and registers the command that closes orphaned runs. Calling it again does
    nothing.
    """
    if getattr(engine, _INSTALLED, False):
        return
    engine.subscribe(run_tracker, "start")
    engine.subscribe(run_tracker, "stop")
    engine.register_command(CLOSE_ORPHANED_RUN, partial(_close_orphaned_run, engine))
    setattr(engine, _INSTALLED, True)


async def _close_orphaned_run(engine: Any, msg: Msg) -> str:
    run_uid, reason = msg.args
    stop = {
        "uid": str(uuid4()),
        "time": time.time(),
        "run_start": run_uid,
        "exit_status": "abort",
        "reason": reason,
        "num_events": {},
    }
    schema_validators[DocumentNames.stop].validate(stop)
    engine.dispatcher.process(DocumentNames.stop, stop)
    return stop["uid"]
