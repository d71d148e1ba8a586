"""Child interpreters of the package, and the JSON-lines pipe they talk over.

Three parts of the package run in a Python process of their own: the
write-behind writer (:mod:`~bluesky_timelapse.storage`), the Tiled forwarder of
the sink (:mod:`~bluesky_timelapse.callbacks`) and the embedded Tiled server
(:mod:`~bluesky_timelapse.tiled`). Each child is started by :func:`python_command`
as ``python -c "from <module> import <function>; <function>()"``, so it never
re-imports the user's ``__main__``.

The writer and the forwarder talk to their parent in JSON lines: a
:class:`JsonLinesChild` sends a message a line on the child's standard input and
hands each line the child writes back to a callback; the child takes its side
with :func:`parent_pipe`. A child exits when its parent closes the pipe, or dies.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

logger = logging.getLogger("bluesky_timelapse")

Message = dict[str, Any]
"""One line of the pipe: a JSON object."""


def python_command(target: str, *arguments: str) -> list[str]:
    """The command line that runs ``target`` (``"package.module:function"``) in a new interpreter.

    Parameters
    ----------
    target
        The function to call, as ``module:function``; it takes no arguments.
    arguments
        Given to the child as ``sys.argv[1:]``.
    """
    module, _, function = target.partition(":")
    if not module or not function.isidentifier():
        raise ValueError(f"target {target!r} is invalid; allowed: 'package.module:function'")
    return [sys.executable, "-c", f"from {module} import {function}; {function}()", *arguments]


class JsonLinesChild:
    """A child interpreter running ``target``, with JSON lines both ways.

    Parameters
    ----------
    target
        The child's entry point, ``module:function`` (see :func:`python_command`).
    on_message
        Called with each message the child writes, on a reader thread.
    on_exit
        Called with the child's exit code once its output has ended, on the
        same thread (also when the parent asked it to stop).
    name
        What the child is, for the reader thread's name and log records.
    """

    def __init__(
        self,
        target: str,
        on_message: Callable[[Message], None],
        *,
        on_exit: Callable[[int], None] | None = None,
        name: str = "child",
    ) -> None:
        self.target = target
        self.name = name
        self._on_message = on_message
        self._on_exit = on_exit
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()  # one writer of the pipe at a time

    def __repr__(self) -> str:
        return f"JsonLinesChild({self.target!r}, pid={self.pid})"

    @property
    def running(self) -> bool:
        """Whether the child is alive."""
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        """The child's process id, once started."""
        return None if self._process is None else self._process.pid

    def start(self, *first: Message) -> None:
        """Start the child and send it ``first`` before any other message.

        Raises
        ------
        RuntimeError
            If it was started before.
        """
        with self._lock:
            if self._process is not None:
                raise RuntimeError(f"{self!r} was started before; a child starts once")
            process = subprocess.Popen(
                python_command(self.target), stdin=subprocess.PIPE, stdout=subprocess.PIPE
            )
            self._process = process
            for message in first:
                self._write(message)
        threading.Thread(target=self._read, args=(process,), name=self.name, daemon=True).start()

    def send(self, message: Message) -> bool:
        """Send ``message``; False if the child is not running (not started, or gone)."""
        with self._lock:
            return self._write(message)

    def close(self, last: Message | None = None, timeout: float = 10.0) -> None:
        """Send ``last`` (if any), close the pipe and wait; kill the child after ``timeout``."""
        with self._lock:
            process = self._process
            if process is None or process.stdin is None:
                return
            if last is not None:
                self._write(last)
            with contextlib.suppress(OSError):  # gone already
                process.stdin.close()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the child to exit and return its exit code.

        Raises
        ------
        RuntimeError
            If it was never started.
        subprocess.TimeoutExpired
            If it is still running after ``timeout`` seconds.
        """
        if self._process is None:
            raise RuntimeError(f"{self!r} was never started")
        return self._process.wait(timeout)

    def _write(self, message: Message) -> bool:
        process = self._process
        if process is None or process.stdin is None or process.stdin.closed:
            return False
        try:
            process.stdin.write(json.dumps(message).encode() + b"\n")
            process.stdin.flush()
        except (OSError, ValueError):
            return False  # the child died; its reader reports the exit
        return True

    def _read(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            try:
                message = json.loads(line)
            except ValueError:
                logger.warning("%s said %r, which is not a JSON line", self.name, line[:200])
                continue
            self._on_message(message)
        code = process.wait()
        if self._on_exit is not None:
            self._on_exit(code)


def parent_pipe() -> tuple[Iterator[Message], Callable[[Message], None]]:
    """In a child: the parent's messages, and a function that sends one back.

    Whatever else the child prints goes to its standard error, never into the
    pipe. The messages end when the parent closes the pipe (or dies). The reply
    function may be called from any thread.
    """
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    lock = threading.Lock()

    def reply(message: Message) -> None:
        line = json.dumps(message).encode() + b"\n"
        with lock:
            replies.write(line)
            replies.flush()

    return (json.loads(line) for line in sys.stdin.buffer), reply
