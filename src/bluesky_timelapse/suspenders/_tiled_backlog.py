"""A Tiled backlog: too many documents wait in a sink's journal to be sent to Tiled."""

from __future__ import annotations

from typing import Any, Unpack

from ._base import PollingSuspender, SuspenderOptions


class SuspendWhenTiledBacklog(PollingSuspender):
    """Suspend while a :class:`~bluesky_timelapse.callbacks.TiledSink` is too far behind.

    For those who prefer pausing acquisition to spooling documents on local disk
    while Tiled is away. Resumes once the backlog is at or below ``resume_below``.

    Parameters
    ----------
    sink
        The sink to watch (anything with ``health()`` returning a
        :class:`~bluesky_timelapse.callbacks.SinkHealth`).
    max_documents
        Suspend when more documents than this wait to be sent, >= 1.
    resume_below
        Resume at or below this many; default half of ``max_documents``.
    poll_interval
        Seconds between checks of the backlog, > 0.
    **options
        ``sleep``, ``pre_plan``, ``post_plan``, ``tripped_message``, ``log``; see
        :class:`SuspenderOptions`.
    """

    def __init__(
        self,
        sink: Any,
        *,
        max_documents: int,
        resume_below: int | None = None,
        poll_interval: float = 1.0,
        **options: Unpack[SuspenderOptions],
    ) -> None:
        if (
            isinstance(max_documents, bool)
            or not isinstance(max_documents, int)
            or max_documents < 1
        ):
            raise ValueError(
                f"max_documents {max_documents!r} is invalid; allowed: an integer >= 1"
            )
        resume = max_documents // 2 if resume_below is None else resume_below
        if (
            isinstance(resume, bool)
            or not isinstance(resume, int)
            or not 0 <= resume <= max_documents
        ):
            raise ValueError(
                f"resume_below {resume_below!r} is invalid; allowed: an integer from 0 to "
                f"max_documents ({max_documents})"
            )
        self.sink = sink
        self.max_documents = max_documents
        self.resume_below = resume
        super().__init__(poll_interval=poll_interval, signal_name="tiled_backlog", **options)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(max_documents={self.max_documents})"

    def measure(self) -> int:
        """Documents journaled and not yet in Tiled."""
        return int(self.sink.health().queue_depth)

    def _should_suspend(self, value: int) -> bool:
        return value > self.max_documents

    def _should_resume(self, value: int) -> bool:
        return value <= self.resume_below

    def _suspend_reason(self, value: int) -> str:
        error = self.sink.health().last_error
        return (
            f"{value} documents wait to be sent to Tiled, more than the {self.max_documents} "
            "allowed" + (f" (last error: {error})" if error else "")
        )

    def _resume_reason(self, value: int) -> str:
        return f"the Tiled backlog is down to {value} documents"
