"""The index of a timelapse in Tiled: one node per timelapse, one row per slot's run.

:class:`~bluesky_timelapse.callbacks.TiledSink` keeps, beside the runs it writes,
a node ``timelapses/<timelapse_id>`` (spec :data:`~bluesky_timelapse.specs.TIMELAPSE_SPEC`)
holding

- ``slots``: a table with one row per slot's run, appended when the run's stop
  document has reached Tiled (the columns are :data:`COLUMNS`);
- ``<stream>/<field>``: for each image field, one array ``(row, y, x[, c])``
  with a copy of every slot's first frame in that stream, so that many frames
  come back in one request; a slot's row in it is in the ``frame_rows`` column.

Its metadata is ``{"timelapse_id": ..., "start": ...}``: the start document of
the timelapse's first run without its per-run keys. This module names that
layout and reads it; :mod:`._index_writer` writes it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow
from tiled.client.container import Container

from ..specs import TIMELAPSE_SPEC

__all__ = ["SlotIndex", "read_slot_index"]

INDEX_KEY = "timelapses"
"""The container, beside the runs, that holds one index node per timelapse."""

SLOTS_KEY = "slots"
"""The table of a timelapse's index node."""

COLUMNS: dict[str, str] = {
    "slot_index": "int64",
    "run_uid": "string",
    "time": "float64",
    "scheduled_timestamp": "float64",
    "scheduled_time": "string",
    "lateness": "float64",
    "exit_status": "string",
    "num_events": "string",
    "frame_rows": "string",
    "frame_shapes": "string",
}
"""The columns of ``slots`` and their Arrow types. ``time`` is the start document's;
``scheduled_timestamp`` and ``lateness`` are NaN and ``scheduled_time`` ``""`` when
the run has none; ``exit_status`` is the stop document's; ``num_events``,
``frame_rows`` (``"<stream>/<field>"`` -> row of the timelapse's array) and
``frame_shapes`` (``"<stream>/<field>"`` -> the frame shape of the run's data key)
are JSON objects."""

SCHEMA = pyarrow.schema([(name, getattr(pyarrow, kind)()) for name, kind in COLUMNS.items()])
"""The Arrow schema of ``slots``."""

PER_RUN_KEYS = frozenset(
    {"uid", "time", "scan_id", "timelapse_id", "slot_index", "scheduled_time"}
    | {"scheduled_timestamp", "lateness"}
)
"""Start-document keys that differ from run to run (left out of the index's ``start``)."""


@dataclass(frozen=True)
class SlotIndex:
    """A timelapse's index as read from Tiled."""

    node: Any
    """The index node, ``timelapses/<timelapse_id>``."""
    start: Mapping[str, Any]
    """The start document keys common to its runs."""
    rows: list[dict[str, Any]]
    """One dict per row of ``slots`` (JSON columns decoded), in the order appended."""

    def frames(self, stream: str, field: str) -> Any | None:
        """The array of ``field``'s frames in ``stream``, or None if there is none."""
        try:
            return child(self.node, stream, field)
        except KeyError:
            return None


def frame_key(stream: str, field: str) -> str:
    """How ``frame_rows`` and ``frame_shapes`` name a field of a stream."""
    return f"{stream}/{field}"


def read_slot_index(client: Any, timelapse_id: str) -> SlotIndex | None:
    """The index of ``timelapse_id`` under ``client``, or None if it has none.

    Reads the index node's metadata and its ``slots`` table: two requests, however
    many slots.
    """
    try:
        node = child(client, INDEX_KEY, timelapse_id)
    except KeyError:
        return None
    if not any(spec.name == TIMELAPSE_SPEC for spec in node.specs):
        return None
    try:
        table = child(node, SLOTS_KEY)
    except KeyError:
        rows: list[dict[str, Any]] = []
    else:
        frame = table.read()
        columns = {name: frame[name].tolist() for name in COLUMNS}
        for name in ("num_events", "frame_rows", "frame_shapes"):
            columns[name] = [json.loads(text or "{}") for text in columns[name]]
        rows = [
            dict(zip(columns, values, strict=True))
            for values in zip(*columns.values(), strict=True)
        ]
    return SlotIndex(node, node.metadata.get("start") or {}, rows)


def child(node: Any, *path: str) -> Any:
    """The node at ``path`` under ``node``, in one request.

    Raises
    ------
    KeyError
        If there is no node there.
    """
    if isinstance(node, Container):
        # CatalogOfBlueskyRuns reads a string as a (partial) uid and a tuple as
        # several; the base lookup walks the path in one request.
        return Container.__getitem__(node, path)
    for key in path:
        node = node[key]
    return node
