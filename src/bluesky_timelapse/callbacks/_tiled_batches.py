"""A ``TiledWriter`` whose partial batches can be written now, not only at the stop.

``TiledWriter(batch_size=N)`` gathers N events (table rows and frame ranges) into
one request each, which costs the server far less than N requests; but it writes a
partial batch only when the run stops, so with N > 1 the last rows of a running
acquisition wait for the stop. :class:`FlushableTiledWriter` adds :meth:`flush`:
the sink calls it whenever it has caught up with its journal, so batches form only
while Tiled is behind (adaptive batching) and are never held back otherwise.

The documents go through ``TiledWriter`` unchanged; :meth:`flush` asks each run's
writer to write its cached rows and frame ranges with the same methods it uses
when a batch is full.
"""

from __future__ import annotations

from typing import Any

from bluesky_tiled_plugins import TiledWriter
from bluesky_tiled_plugins.writing.tiled_writer import RunNormalizer

_RUN_WRITER_API = (
    "_internal_data_cache",
    "_desc_nodes",
    "_write_internal_data",
    "_external_data_cache",
    "_write_external_data",
)
"""What :meth:`FlushableTiledWriter.flush` uses of bluesky-tiled-plugins' run writer."""


class _RecordingNormalizer(RunNormalizer):
    """The normalizer ``TiledWriter`` puts before each run's writer; keeps that writer."""

    run_writer: Any = None

    def subscribe(self, func: Any, name: str = "all") -> Any:
        """Subscribe ``func`` (the run's writer) and remember it."""
        self.run_writer = func
        return super().subscribe(func, name)


class FlushableTiledWriter:
    """``TiledWriter`` plus :meth:`flush`; call it as the ``TiledWriter`` itself.

    Parameters
    ----------
    client
        A Tiled client (container to write the runs into).
    spec_to_mimetype
        Passed to ``TiledWriter``.
    batch_size
        Passed to ``TiledWriter``: the most events written in one request.
    """

    def __init__(self, client: Any, *, spec_to_mimetype: dict[str, str], batch_size: int) -> None:
        self._normalizers: list[_RecordingNormalizer] = []
        self.writer = TiledWriter(
            client,
            normalizer=self._new_normalizer,
            spec_to_mimetype=spec_to_mimetype,
            batch_size=batch_size,
        )

    def __call__(self, name: str, doc: dict[str, Any]) -> None:
        """Pass one document to ``TiledWriter``."""
        self.writer(name, doc)

    def flush(self) -> None:
        """Write every run's partial batch now (rows and frame ranges).

        Raises
        ------
        RuntimeError
            If the installed bluesky-tiled-plugins writes runs differently (then
            use ``batch_size=1``, which needs no flush).
        """
        for normalizer in self._normalizers:
            run_writer = normalizer.run_writer
            if run_writer is not None:
                _write_partial_batches(run_writer)

    def _new_normalizer(self, **kwargs: Any) -> _RecordingNormalizer:
        normalizer = _RecordingNormalizer(**kwargs)
        self._normalizers.append(normalizer)
        return normalizer


def _write_partial_batches(run_writer: Any) -> None:
    missing = [name for name in _RUN_WRITER_API if not hasattr(run_writer, name)]
    if missing:
        raise RuntimeError(
            f"cannot flush {type(run_writer).__name__}: this bluesky-tiled-plugins has no "
            f"{', '.join(missing)}; use TiledSink(batch_size=1), which needs no flush"
        )
    for stream, rows in run_writer._internal_data_cache.items():
        if rows:
            run_writer._write_internal_data(rows, desc_node=run_writer._desc_nodes[stream])
            rows.clear()
    cached = run_writer._external_data_cache
    for stream_resource in list(cached):
        run_writer._write_external_data(cached.pop(stream_resource))
