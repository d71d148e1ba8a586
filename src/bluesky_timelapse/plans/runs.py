"""Watching the runs an inner plan opens and closes, and closing orphaned runs.

A run opened by a process that then died never gets its stop document. The
session that resumes the timelapse closes it, through a RunEngine command this
module registers (:func:`install_commands`), so no reader ever sees a run that
never ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from functools import partial
from typing import Any
from uuid import uuid4

from bluesky.utils import Msg, MsgGenerator
from event_model import DocumentNames, schema_validators

CLOSE_ORPHANED_RUN = "timelapse_close_orphaned_run"
"""The RunEngine command that emits a stop document for a run of a dead process."""


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
    """Register this package's RunEngine commands on ``engine`` (idempotent)."""
    engine.register_command(CLOSE_ORPHANED_RUN, partial(_close_orphaned_run, engine))


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
