"""Writing a timelapse's index in Tiled, one row per slot, as its runs are forwarded.

TiledSink's forwarder feeds each run's documents to a :class:`RunDocuments` as it
sends them, and once the run's stop document is in Tiled asks a
:class:`SlotIndexWriter` to record the slot: its frames are appended to the
timelapse's arrays, then its row to the ``slots`` table (the layout is
:mod:`._index`'s). If that fails, the forwarding of the run fails and the run is
sent again whole, so the row is written by the same forwarding that writes the
run, in the same order.

Exactly once: neither an appended row nor an appended frame can be taken back
(Tiled does not retry an append whose answer was lost), so before its first row a
writer reads which slots the table has, and a slot already there is not written
again: a run replayed after an outage or a crash, or a stop sent twice, leaves one
row. After a failure the writer forgets what it knew and reads it again. A frame
appended by an attempt that then failed stays in the array unreferenced; the rows
name the frames they use.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
import pyarrow
from tiled.structures.core import Spec

from ..specs import TIMELAPSE_SPEC, TIMELAPSE_SPEC_VERSION
from ..storage import frame_index, read_frame
from ._index import INDEX_KEY, PER_RUN_KEYS, SCHEMA, SLOTS_KEY, child, frame_key

__all__ = ["RunDocuments", "SlotIndexWriter"]

logger = logging.getLogger("bluesky_timelapse.tiled")


@dataclass
class _FrameRef:
    """Where a field's first frame in a stream is: a (Stream)Resource and an index."""

    resource: Mapping[str, Any]
    index: int


@dataclass
class RunDocuments:
    """What the index needs of one run, gathered from its documents in order."""

    start: Mapping[str, Any] = field(default_factory=dict)
    """The start document."""
    stop: Mapping[str, Any] | None = None
    """The stop document, once it came."""
    frame_shapes: dict[str, list[int]] = field(default_factory=dict)
    """``"<stream>/<field>"`` -> the data key's shape, for the 2-D and 3-D data keys."""
    first_frames: dict[str, _FrameRef] = field(default_factory=dict)
    """``"<stream>/<field>"`` -> where that field's first frame in the run is."""
    _streams: dict[str, str] = field(default_factory=dict, init=False, repr=False)
    _resources: dict[str, Mapping[str, Any]] = field(default_factory=dict, init=False, repr=False)
    _datums: dict[str, tuple[str, int]] = field(default_factory=dict, init=False, repr=False)

    def __call__(self, name: str, doc: Mapping[str, Any]) -> None:
        """Take the next document of the run."""
        if name == "start":
            self.start = doc
        elif name == "stop":
            self.stop = doc
        elif name == "descriptor":
            stream = str(doc.get("name", "primary"))
            self._streams[doc["uid"]] = stream
            for key, data_key in doc["data_keys"].items():
                shape = data_key.get("shape") or []
                if data_key.get("external") and len(shape) in (2, 3):
                    self.frame_shapes[frame_key(stream, key)] = [int(n) for n in shape]
        elif name in ("resource", "stream_resource"):
            self._resources[doc["uid"]] = doc
        elif name == "datum":
            self._datums[doc["datum_id"]] = (doc["resource"], frame_index(doc["datum_kwargs"]))
        elif name == "event":
            stream = self._streams.get(doc["descriptor"], "")
            for key, value in doc["data"].items():
                ref = self._datums.get(value) if isinstance(value, str) else None
                if ref is not None:
                    self._first(stream, key, self._resources[ref[0]], ref[1])
        elif name == "stream_datum":
            resource = self._resources[doc["stream_resource"]]
            stream = self._streams.get(doc["descriptor"], "")
            if int(doc["indices"]["stop"]) > int(doc["indices"]["start"]):
                self._first(stream, resource["data_key"], resource, int(doc["indices"]["start"]))

    def _first(self, stream: str, key: str, resource: Mapping[str, Any], index: int) -> None:
        name = frame_key(stream, key)
        if name in self.frame_shapes:
            self.first_frames.setdefault(name, _FrameRef(resource, index))

    @property
    def is_slot(self) -> bool:
        """Whether the run is a timelapse's slot (its start says which)."""
        return (
            self.start.get("timelapse_id") is not None and self.start.get("slot_index") is not None
        )


@dataclass
class _Timelapse:
    """What a writer knows of one timelapse's index node."""

    node: Any
    table: Any | None  # None until the first row
    slots: set[int]  # the slot indices the table has
    arrays: dict[str, Any] = field(default_factory=dict)  # "<stream>/<field>" -> array client


class SlotIndexWriter:
    """Record each slot's run in its timelapse's index in Tiled, once.

    Parameters
    ----------
    copy_frames
        Whether to append each slot's frames to the timelapse's arrays (a copy of
        the pixels in Tiled's storage, read back in bulk), or only its row.
    """

    def __init__(self, *, copy_frames: bool = True) -> None:
        self.copy_frames = copy_frames
        self._timelapses: dict[str, _Timelapse] = {}
        self._root: Any = None

    def forget(self) -> None:
        """Forget what is known of Tiled (after a failure): it is read again when needed."""
        self._timelapses.clear()
        self._root = None

    def prepare(self, client: Any, start: Mapping[str, Any]) -> None:
        """Make the index node of the run's timelapse, if it is a slot's, before the run.

        So ``timelapses`` is older than the runs it indexes: the newest entry of the
        catalog (``catalog[-1]``) stays a run.
        """
        timelapse_id = start.get("timelapse_id")
        if timelapse_id is not None and start.get("slot_index") is not None:
            self._open(client, str(timelapse_id), start)

    def record(self, client: Any, run: RunDocuments) -> None:
        """Append the run's frames and row to its timelapse's index, unless it is there."""
        if not run.is_slot:
            return
        timelapse = self._open(client, str(run.start["timelapse_id"]), run.start)
        slot = int(run.start["slot_index"])
        if slot in timelapse.slots:
            logger.info(
                "TiledSink: slot %d of timelapse %s is in its index already; run %s not added",
                slot,
                run.start["timelapse_id"],
                run.start["uid"],
            )
            return
        rows = self._append_frames(timelapse, run) if self.copy_frames else {}
        row = _row(run, rows)
        if timelapse.table is None:
            timelapse.table = _get_or_create(
                timelapse.node,
                SLOTS_KEY,
                lambda: timelapse.node.create_appendable_table(SCHEMA, key=SLOTS_KEY),
            )
        timelapse.table.append_partition(0, pyarrow.Table.from_pylist([row], schema=SCHEMA))
        timelapse.slots.add(slot)

    def _open(self, client: Any, timelapse_id: str, start: Mapping[str, Any]) -> _Timelapse:
        known = self._timelapses.get(timelapse_id)
        if known is not None:
            return known
        if self._root is None:
            self._root = _get_or_create(
                client, INDEX_KEY, lambda: client.create_container(key=INDEX_KEY)
            )
        root = self._root
        metadata = {
            "timelapse_id": timelapse_id,
            "start": {key: value for key, value in start.items() if key not in PER_RUN_KEYS},
        }
        node = _get_or_create(
            root,
            timelapse_id,
            lambda: root.create_container(
                key=timelapse_id,
                metadata=metadata,
                specs=[Spec(TIMELAPSE_SPEC, version=TIMELAPSE_SPEC_VERSION)],
            ),
        )
        try:
            table = child(node, SLOTS_KEY)
        except KeyError:
            table, slots = None, set()
        else:
            slots = {int(s) for s in table.read(columns=["slot_index"])["slot_index"]}
        known = self._timelapses[timelapse_id] = _Timelapse(node, table, slots)
        return known

    def _append_frames(self, timelapse: _Timelapse, run: RunDocuments) -> dict[str, int]:
        """Append the run's first frame of each image field; ``name -> row`` of those appended."""
        if (run.stop or {}).get("exit_status") != "success":
            return {}
        rows = {}
        for name, ref in run.first_frames.items():
            try:
                frame = np.asarray(read_frame(ref.resource, ref.index))
            except (OSError, KeyError, ValueError) as error:
                logger.warning(
                    "TiledSink: run %s: cannot read its %s frame for the timelapse's array "
                    "(%s); load() reads it from the run",
                    run.start["uid"],
                    name,
                    error,
                )
                continue
            row = self._append_frame(timelapse, name, frame)
            if row is not None:
                rows[name] = row
        return rows

    def _append_frame(
        self, timelapse: _Timelapse, name: str, frame: np.ndarray[Any, Any]
    ) -> int | None:
        array = timelapse.arrays.get(name)
        if array is None:
            array = self._find_array(timelapse.node, name)
        if array is None:
            stream, key = name.split("/", 1)
            node = timelapse.node
            container = _get_or_create(node, stream, lambda: node.create_container(key=stream))
            array = container.write_array(frame[np.newaxis], key=key)
            timelapse.arrays[name] = array
            return 0
        timelapse.arrays[name] = array
        if tuple(array.shape[1:]) != frame.shape or np.dtype(array.dtype) != frame.dtype:
            logger.warning(
                "TiledSink: a %s frame of shape %s (%s) does not fit the timelapse's array "
                "of %s (%s); load() reads it from the run",
                name,
                frame.shape,
                frame.dtype,
                tuple(array.shape[1:]),
                array.dtype,
            )
            return None
        row = int(array.shape[0])
        array.patch(frame[np.newaxis], offset=(row,), extend=True)
        return row

    @staticmethod
    def _find_array(node: Any, name: str) -> Any | None:
        try:
            return child(node, *name.split("/", 1))
        except KeyError:
            return None


def _row(run: RunDocuments, frame_rows: dict[str, int]) -> dict[str, Any]:
    start, stop = run.start, run.stop or {}
    return {
        "slot_index": int(start["slot_index"]),
        "run_uid": str(start["uid"]),
        "time": float(start["time"]),
        "scheduled_timestamp": _number(start.get("scheduled_timestamp")),
        "scheduled_time": str(start.get("scheduled_time") or ""),
        "lateness": _number(start.get("lateness")),
        "exit_status": str(stop.get("exit_status") or ""),
        "num_events": json.dumps(stop.get("num_events") or {}),
        "frame_rows": json.dumps(frame_rows),
        "frame_shapes": json.dumps(run.frame_shapes),
    }


def _number(value: Any) -> float:
    return math.nan if value is None else float(value)


def _get_or_create(parent: Any, key: str, create: Callable[[], Any]) -> Any:
    """The child ``key`` of ``parent``, made by ``create`` if there is none (a race is fine)."""
    try:
        return child(parent, key)
    except KeyError:
        pass
    try:
        return create()
    except httpx.HTTPStatusError as error:
        if error.response.status_code != httpx.codes.CONFLICT:
            raise
    return child(parent, key)
