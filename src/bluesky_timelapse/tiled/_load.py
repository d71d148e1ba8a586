"""Read a timelapse back from Tiled: one lazy array, and the list of timelapses there.

Every slot of a timelapse is one bluesky run whose start document carries
``timelapse_id`` and ``slot_index`` (see :func:`bluesky_timelapse.plans.timelapse`);
TiledWriter stores it as the run's ``metadata["start"]``. Where TiledSink wrote
the runs, the timelapse has an index (:mod:`._index`): one table row per slot and
an array with every slot's frame. :func:`load` reads that table, or else finds the
runs with one query and reads their metadata, and returns a dask-backed
:class:`xarray.DataArray`: a frame's pixels leave Tiled only when that frame is
computed, many frames of an indexed timelapse in one request.

Examples
--------
>>> from tiled.client import from_uri
>>> client = from_uri("http://127.0.0.1:8000", api_key=key)  # doctest: +SKIP
>>> frames = load(client, "20250601T080000Z-1a2b3c")  # doctest: +SKIP
>>> frames.isel(slot=-1).plot.imshow()  # reads one frame  # doctest: +SKIP
>>> frames.swap_dims(slot="scheduled_time").sel(scheduled_time="2025-06-02")  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypedDict, get_args

import dask.array as da
import httpx
import numpy as np
import xarray as xr
from dask.base import tokenize
from tiled.queries import Key

from ._index import PER_RUN_KEYS, SlotIndex, child, frame_key, read_slot_index

__all__ = ["Missing", "TiledTimelapse", "catalog_timelapses", "load"]

Missing = Literal["skip", "nan"]

_TIMELAPSE_ID = "start.timelapse_id"
_NOT_A_TIME = np.datetime64("NaT", "ns")
_CHUNK_BYTES = 32 * 2**20
"""About how many bytes of frames one dask chunk of an indexed timelapse holds."""
_CHUNK_SLOTS = 256
"""The most slots in one dask chunk (one request when their frames are in the index)."""


class TiledTimelapse(TypedDict):
    """One timelapse found in Tiled, as :func:`catalog_timelapses` describes it."""

    timelapse_id: str
    first_scheduled_time: datetime | None
    """The earliest slot time among its runs (UTC)."""
    last_scheduled_time: datetime | None
    """The latest slot time among its runs (UTC)."""
    runs: int
    """Runs in Tiled, whatever their outcome."""
    succeeded: int
    """Runs whose stop document says ``exit_status="success"``."""


def load(
    client: Any,
    timelapse_id: str,
    *,
    field: str | None = None,
    stream: str = "primary",
    missing: Missing = "skip",
) -> xr.DataArray:
    """Return a whole timelapse as one lazy array of shape ``(slot, y, x[, c])``.

    Nothing but metadata is read here. A timelapse that TiledSink wrote has an
    index, ``timelapses/<timelapse_id>`` (see :doc:`/tiled`): its table of slots is
    read (a few requests, however many slots), and the frames come from its array
    of every slot's frame, many in one request. Otherwise the runs' start and stop
    documents are read (one paged query) and the structure of one frame, and each
    slot is one dask chunk that reads that slot's frame from its run. Either way
    ``frames[i].values`` reads one frame.

    Parameters
    ----------
    client
        A Tiled container holding the runs, as TiledWriter wrote them (e.g.
        ``tiled.client.from_uri(...)``).
    timelapse_id
        The ``timelapse_id`` in the runs' start documents.
    field
        The data key of the image, e.g. ``"cam_image"``. None: the only field of
        ``stream`` whose per-event shape is 2-D or 3-D.
    stream
        The event stream holding the images.
    missing
        ``"skip"``: slots with no run, a failed run (stop ``exit_status`` other
        than ``"success"``, or no stop document: interrupted or still running) or
        no event in ``stream`` are left out; the ``slot`` coordinate shows which
        exist, and the data keep their dtype. ``"nan"``: every slot from 0 to the
        highest ``slot_index`` found, those without a frame filled with NaN; the
        data are then always floating point (uint8/uint16 become float32, wider
        integers float64) so that NaN fits.

    Returns
    -------
    xarray.DataArray
        Named after the field, dims ``("slot", "y", "x")`` or ``("slot", "y", "x",
        "c")``, dask-backed. Coordinates along ``slot``: ``slot`` (the slot index),
        ``scheduled_time`` (when the slot was due: datetime64[ns] in UTC, from
        ``scheduled_timestamp`` to the microsecond), ``time`` (when the run
        started: its start document's time, a few milliseconds before the
        exposure; datetime64[ns] UTC), ``lateness`` (seconds the slot started
        late) and ``run_uid``. Slots without a run have NaT, NaN and ``""``
        there. Attributes: the start document of the first run without its
        per-slot keys (uid, time, scan_id, slot metadata), then ``timelapse_id``,
        ``field`` and ``stream``. A run with several events in ``stream``
        contributes its first frame.

    Raises
    ------
    LookupError
        If no run has this ``timelapse_id``, or a slot's run lacks the field
        (when that frame is computed).
    ValueError
        For an unknown ``missing``; several runs with the same slot index (named);
        no frame at all in ``stream``; an unknown field, or several candidate
        fields (listed) when ``field`` is None; frames whose shape differs from
        the first one (when computed).
    """
    if missing not in get_args(Missing):
        raise ValueError(
            f"missing {missing!r} is not allowed; allowed: {', '.join(get_args(Missing))}"
        )
    index = read_slot_index(client, timelapse_id)
    if index is not None and not index.rows:
        index = None  # its first slot is not in Tiled yet
    runs = _find_runs(client, timelapse_id) if index is None else _indexed_runs(index)
    _refuse_duplicates(timelapse_id, runs)
    with_frames = [run for run in runs if run.has_frame(stream)]
    if not with_frames:
        outcomes = ", ".join(f"slot {run.slot}: {run.outcome(stream)}" for run in runs)
        raise ValueError(
            f"timelapse {timelapse_id!r} has no frame in stream {stream!r} ({outcomes})"
        )
    bulk = None if index is None else _bulk_frames(index, with_frames[0], stream, field)
    if bulk is not None:
        field, frames_array = bulk
        frame_shape = tuple(int(n) for n in frames_array.shape[1:])
        dtype = np.dtype(frames_array.dtype)
    else:
        frames_array = None
        field, frame_shape, dtype = _describe_frames(client, with_frames[0], stream, field)

    if missing == "skip":
        slots: list[tuple[int, _Run | None]] = [(run.slot, run) for run in with_frames]
    else:
        by_slot = {run.slot: run for run in runs}
        slots = [(index, by_slot.get(index)) for index in range(runs[-1].slot + 1)]
        dtype = np.promote_types(dtype, np.float32)
    frames = _SlotFrames(
        client,
        stream,
        field,
        slots=[index for index, _ in slots],
        uids=[run.uid if run is not None and run.has_frame(stream) else None for _, run in slots],
        frame_shape=frame_shape,
        dtype=dtype,
        bulk=frames_array,
        bulk_rows=[
            run.frame_rows.get(frame_key(stream, field))
            if run is not None and run.has_frame(stream)
            else None
            for _, run in slots
        ],
    )
    name = f"tiled-timelapse-{timelapse_id}-{field}-" + tokenize(
        str(getattr(client, "uri", id(client))), stream, field, frames.slots, frames.uids, dtype
    )
    frame_bytes = max(1, int(np.prod(frame_shape)) * dtype.itemsize)
    per_chunk = (
        max(1, min(_CHUNK_SLOTS, _CHUNK_BYTES // frame_bytes)) if frames_array is not None else 1
    )
    data = da.from_array(
        frames,
        chunks=(per_chunk, *frame_shape),
        name=name,
        lock=False,
        asarray=True,
        meta=np.empty((0,) * frames.ndim, dtype=dtype),
    )
    dims = ("slot", "y", "x", "c")[: frames.ndim]
    present = [run for _, run in slots]
    coords = {
        "slot": ("slot", np.array(frames.slots, dtype=np.int64)),
        "scheduled_time": ("slot", _times([_scheduled_timestamp(run) for run in present])),
        "time": ("slot", _times([run.start.get("time") if run else None for run in present])),
        "lateness": (
            "slot",
            np.array([_float(run.start.get("lateness")) if run else np.nan for run in present]),
        ),
        "run_uid": ("slot", np.array([run.uid if run else "" for run in present], dtype=str)),
    }
    first_start = runs[0].start if index is None else index.start
    common = {key: value for key, value in first_start.items() if key not in PER_RUN_KEYS}
    attrs = {**common, "timelapse_id": timelapse_id, "field": field, "stream": stream}
    return xr.DataArray(data, dims=dims, coords=coords, name=field, attrs=attrs)


def catalog_timelapses(client: Any) -> list[TiledTimelapse]:
    """Describe the timelapses in a Tiled container, earliest first.

    Only metadata is read: ``distinct`` counts per timelapse id, then for a
    timelapse with an index (written by TiledSink) its table of slots, for the
    others ``distinct`` counts per outcome and a one-run page sorted by slot time
    for the first and last slot. A server that does not support ``distinct`` is
    answered by paging through the runs' metadata instead.

    Parameters
    ----------
    client
        A Tiled container holding the runs, as TiledWriter wrote them.

    Returns
    -------
    list of TiledTimelapse
        One dict per distinct ``timelapse_id``, sorted by first scheduled time.
    """
    try:
        found = _distinct(client, _TIMELAPSE_ID)
    except _DistinctUnsupported:
        timelapses = _list_by_paging(client)
    else:
        timelapses = [
            _describe_from_index(client, tid, runs) or _describe_timelapse(client, tid, runs)
            for tid, runs in found.items()
        ]
    return sorted(timelapses, key=_earliest_first)


@dataclass(frozen=True)
class _Run:
    """The metadata of one slot's run."""

    uid: str
    start: Mapping[str, Any]
    stop: Mapping[str, Any] | None
    frame_rows: Mapping[str, int] = dataclasses.field(default_factory=dict)
    """From an index: ``"<stream>/<field>"`` -> the row of its array holding the frame."""
    frame_shapes: Mapping[str, Sequence[int]] = dataclasses.field(default_factory=dict)
    """From an index: ``"<stream>/<field>"`` -> the data key's shape."""

    @property
    def slot(self) -> int:
        return int(self.start["slot_index"])

    def outcome(self, stream: str) -> str:
        if self.stop is None:
            return "no stop document"
        status = self.stop.get("exit_status")
        if status != "success":
            return f"exit_status {status!r}"
        num_events = self.stop.get("num_events")
        if num_events is not None and not num_events.get(stream):
            return f"no event in {stream!r}"
        return "success"

    def has_frame(self, stream: str) -> bool:
        return self.outcome(stream) == "success"


def _find_runs(client: Any, timelapse_id: str) -> list[_Run]:
    """The runs of the timelapse that have a slot, by slot index, from their metadata."""
    results = client.search(Key(_TIMELAPSE_ID) == timelapse_id)
    runs = [
        _Run(uid, run.metadata["start"], run.metadata.get("stop"))
        for uid, run in results.items()
        if run.metadata["start"].get("slot_index") is not None
    ]
    if not runs:
        raise LookupError(
            f"no run of a slot in Tiled has timelapse_id {timelapse_id!r}; "
            f"known: {_known_ids(client)}"
        )
    return sorted(runs, key=lambda run: run.slot)


def _indexed_runs(index: SlotIndex) -> list[_Run]:
    """The runs the timelapse's index lists, by slot index, as :func:`_find_runs` gives them."""
    runs = []
    for row in index.rows:
        start = {"uid": row["run_uid"], "time": row["time"], "slot_index": row["slot_index"]}
        start.update(
            (key, row[key])
            for key in ("scheduled_timestamp", "lateness")
            if not np.isnan(row[key])
        )
        if row["scheduled_time"]:
            start["scheduled_time"] = row["scheduled_time"]
        stop = {"exit_status": row["exit_status"], "num_events": row["num_events"]}
        runs.append(_Run(row["run_uid"], start, stop, row["frame_rows"], row["frame_shapes"]))
    return sorted(runs, key=lambda run: run.slot)


def _refuse_duplicates(timelapse_id: str, runs: Sequence[_Run]) -> None:
    by_slot: defaultdict[int, list[str]] = defaultdict(list)
    for run in runs:
        by_slot[run.slot].append(run.uid)
    duplicated = {slot: uids for slot, uids in by_slot.items() if len(uids) > 1}
    if duplicated:
        listing = "; ".join(
            f"slot {slot}: runs {', '.join(uids)}" for slot, uids in duplicated.items()
        )
        raise ValueError(
            f"timelapse {timelapse_id!r} has several runs for the same slot ({listing}); "
            "allowed: one run per slot"
        )


def _bulk_frames(
    index: SlotIndex, run: _Run, stream: str, field: str | None
) -> tuple[str, Any] | None:
    """The image field and the index's array of its frames, if the index has one."""
    prefix = f"{stream}/"
    fields = sorted(key.removeprefix(prefix) for key in run.frame_shapes if key.startswith(prefix))
    if field is None:
        if len(fields) != 1:
            return None  # _describe_frames says why
        (field,) = fields
    elif field not in fields:
        return None
    array = index.frames(stream, field)
    return None if array is None else (field, array)


def _describe_frames(
    client: Any, run: _Run, stream: str, field: str | None
) -> tuple[str, tuple[int, ...], np.dtype[Any]]:
    """The image field, its per-frame shape and dtype, from one run (metadata only)."""
    node = child(client, run.uid, stream)
    data_keys: Mapping[str, Any] = node.metadata.get("data_keys", {})
    if field is None:
        candidates = sorted(
            key
            for key, data_key in data_keys.items()
            if len(data_key.get("shape") or ()) in (2, 3)
        )
        if len(candidates) != 1:
            raise ValueError(
                f"field: stream {stream!r} has {len(candidates)} image fields "
                f"({', '.join(candidates) or 'none'}); pass field= with one of them"
            )
        (field,) = candidates
    elif field not in data_keys:
        raise ValueError(
            f"field {field!r} is not in stream {stream!r}; allowed: {', '.join(sorted(data_keys))}"
        )
    try:
        array = child(client, run.uid, stream, field)
    except KeyError:
        raise ValueError(
            f"field {field!r} of stream {stream!r} is not an array node of its own (as a "
            "camera's externally written frames are); it cannot be read frame by frame"
        ) from None
    frame_shape = tuple(int(n) for n in array.shape[1:])
    if len(frame_shape) not in (2, 3):
        raise ValueError(
            f"field {field!r} has frames of shape {frame_shape}; allowed: (y, x) or (y, x, c)"
        )
    return field, frame_shape, np.dtype(array.dtype)


class _SlotFrames:
    """An array-like over the slots' frames that dask slices.

    Indexing reads from Tiled only the frames (and the region of them) asked for:
    those in the index's array (``bulk``, at ``bulk_rows``) in one request per
    range of consecutive rows, the others one request each from their run; slots
    without a run read as NaN.
    """

    def __init__(
        self,
        client: Any,
        stream: str,
        field: str,
        *,
        slots: Sequence[int],
        uids: Sequence[str | None],
        frame_shape: tuple[int, ...],
        dtype: np.dtype[Any],
        bulk: Any | None = None,
        bulk_rows: Sequence[int | None] = (),
    ) -> None:
        self.client = client
        self.stream = stream
        self.field = field
        self.slots = list(slots)
        self.uids = list(uids)
        self.frame_shape = frame_shape
        self.dtype = dtype
        self.bulk: Any = bulk
        self.bulk_rows = list(bulk_rows) if bulk is not None else [None] * len(self.uids)
        self.shape = (len(self.uids), *frame_shape)
        self.ndim = len(self.shape)

    def __getitem__(self, key: Any) -> np.ndarray[Any, Any]:
        key = key if isinstance(key, tuple) else (key,)
        which, region = key[0], key[1:]
        positions = range(len(self.uids))[which]
        if isinstance(positions, int):
            return self._read([positions], region)[0]
        return self._read(list(positions), region)

    def _read(self, positions: list[int], region: tuple[Any, ...]) -> np.ndarray[Any, Any]:
        region_shape = np.broadcast_to(np.empty((), dtype=bool), self.frame_shape)[region].shape
        stacked = np.empty((len(positions), *region_shape), dtype=self.dtype)
        in_bulk = [(out, self.bulk_rows[p]) for out, p in enumerate(positions)]
        for outs, rows in _consecutive([(out, row) for out, row in in_bulk if row is not None]):
            stacked[outs] = self.bulk[(slice(rows[0], rows[-1] + 1), *region)]
        for out, row in in_bulk:
            if row is None:
                stacked[out] = self._frame(positions[out], region)
        return stacked

    def _frame(self, position: int, region: tuple[Any, ...]) -> np.ndarray[Any, Any]:
        uid, slot = self.uids[position], self.slots[position]
        if uid is None:
            return np.full(self.frame_shape, np.nan, dtype=self.dtype)[region]
        try:
            array = child(self.client, uid, self.stream, self.field)
        except KeyError as error:
            raise LookupError(
                f"slot {slot}: run {uid} has no field {self.field!r} in stream {self.stream!r}"
            ) from error
        if tuple(array.shape[1:]) != self.frame_shape:
            raise ValueError(
                f"slot {slot}: run {uid} has frames of shape {tuple(array.shape[1:])}, "
                f"unlike the timelapse's {self.frame_shape}"
            )
        return np.asarray(array[(0, *region)], dtype=self.dtype)


def _consecutive(pairs: list[tuple[int, int]]) -> list[tuple[list[int], list[int]]]:
    """``(out, row)`` pairs grouped where both go up by one: ``(outs, rows)`` per group."""
    groups: list[tuple[list[int], list[int]]] = []
    for out, row in pairs:
        if groups and groups[-1][0][-1] + 1 == out and groups[-1][1][-1] + 1 == row:
            groups[-1][0].append(out)
            groups[-1][1].append(row)
        else:
            groups.append(([out], [row]))
    return groups


def _scheduled_timestamp(run: _Run | None) -> float | None:
    if run is None:
        return None
    timestamp = run.start.get("scheduled_timestamp")
    if timestamp is None and run.start.get("scheduled_time") is not None:
        timestamp = datetime.fromisoformat(run.start["scheduled_time"]).timestamp()
    return timestamp


def _times(timestamps: Sequence[float | None]) -> np.ndarray[Any, Any]:
    """UTC datetime64[ns] from POSIX timestamps, to the microsecond (NaT for None)."""
    seconds = np.array([np.nan if t is None else t for t in timestamps], dtype=np.float64)
    known = ~np.isnan(seconds)
    times = np.full(len(seconds), _NOT_A_TIME, dtype="datetime64[ns]")
    micros = np.round(seconds[known] * 1_000_000).astype(np.int64)
    times[known] = micros.astype("datetime64[us]").astype("datetime64[ns]")
    return times


def _float(value: Any) -> float:
    return np.nan if value is None else float(value)


class _DistinctUnsupported(Exception):
    """The Tiled node cannot answer ``distinct``."""


def _distinct(node: Any, key: str) -> dict[Any, int]:
    """Value -> number of entries, for one metadata key (entries without it left out)."""
    try:
        answer = node.distinct(key, counts=True)
    except httpx.HTTPStatusError as error:
        if error.response.status_code == httpx.codes.METHOD_NOT_ALLOWED:
            raise _DistinctUnsupported(key) from error
        raise
    return {
        entry["value"]: entry["count"]
        for entry in answer["metadata"][key]
        if entry["value"] is not None
    }


def _describe_timelapse(client: Any, timelapse_id: str, runs: int) -> TiledTimelapse:
    results = client.search(Key(_TIMELAPSE_ID) == timelapse_id)
    by_time = results.sort(("start.scheduled_timestamp", 1)).values()
    return {
        "timelapse_id": timelapse_id,
        "first_scheduled_time": _slot_time(by_time.first().metadata["start"]),
        "last_scheduled_time": _slot_time(by_time.last().metadata["start"]),
        "runs": runs,
        "succeeded": _distinct(results, "stop.exit_status").get("success", 0),
    }


def _describe_from_index(client: Any, timelapse_id: str, runs: int) -> TiledTimelapse | None:
    """The description from the timelapse's index; None if it has none."""
    index = read_slot_index(client, timelapse_id)
    if index is None or not index.rows:
        return None
    timed = [row for row in index.rows if not np.isnan(row["scheduled_timestamp"])]
    first = min(timed, key=lambda row: row["scheduled_timestamp"], default=None)
    last = max(timed, key=lambda row: row["scheduled_timestamp"], default=None)
    return {
        "timelapse_id": timelapse_id,
        "first_scheduled_time": None if first is None else _slot_time(first),
        "last_scheduled_time": None if last is None else _slot_time(last),
        "runs": runs,
        "succeeded": sum(row["exit_status"] == "success" for row in index.rows),
    }


def _list_by_paging(client: Any) -> list[TiledTimelapse]:
    """The same description as :func:`catalog_timelapses`, from every run's metadata."""
    found: dict[str, TiledTimelapse] = {}
    for run in client.values():
        start = run.metadata.get("start") or {}
        timelapse_id = start.get("timelapse_id")
        if timelapse_id is None:
            continue
        entry = found.setdefault(
            timelapse_id,
            {
                "timelapse_id": timelapse_id,
                "first_scheduled_time": None,
                "last_scheduled_time": None,
                "runs": 0,
                "succeeded": 0,
            },
        )
        entry["runs"] += 1
        entry["succeeded"] += (run.metadata.get("stop") or {}).get("exit_status") == "success"
        slot_time = _slot_time(start)
        if slot_time is not None:
            first, last = entry["first_scheduled_time"], entry["last_scheduled_time"]
            entry["first_scheduled_time"] = slot_time if first is None else min(first, slot_time)
            entry["last_scheduled_time"] = slot_time if last is None else max(last, slot_time)
    return list(found.values())


def _slot_time(start: Mapping[str, Any]) -> datetime | None:
    if start.get("scheduled_time"):
        return datetime.fromisoformat(start["scheduled_time"]).astimezone(UTC)
    if start.get("scheduled_timestamp") is not None:
        return datetime.fromtimestamp(start["scheduled_timestamp"], UTC)
    return None


def _earliest_first(timelapse: TiledTimelapse) -> tuple[bool, datetime, str]:
    first = timelapse["first_scheduled_time"]
    return (first is None, first or datetime.min.replace(tzinfo=UTC), timelapse["timelapse_id"])


def _known_ids(client: Any, limit: int = 10) -> str:
    try:
        known = sorted(str(tid) for tid in _distinct(client, _TIMELAPSE_ID))
    except _DistinctUnsupported:
        return "(the server cannot list them)"
    if not known:
        return "none"
    more = f" and {len(known) - limit} more" if len(known) > limit else ""
    return ", ".join(known[:limit]) + more
