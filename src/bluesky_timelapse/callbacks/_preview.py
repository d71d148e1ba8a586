"""A live preview of the latest frame of a running timelapse (matplotlib).

:class:`LivePreview` is a bluesky callback. It follows the Resource/Datum and
StreamResource/StreamDatum documents of the runs, reads the frame an event
names from its file (:func:`~bluesky_timelapse.storage.read_frame`) and
draws it: in a Jupyter notebook it updates one output in place; elsewhere it
draws into a matplotlib figure (a window with an interactive backend).

Examples
--------
>>> preview = LivePreview()  # doctest: +SKIP
>>> RE.subscribe(preview)  # doctest: +SKIP
"""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np

from ..storage import frame_index, read_frame

__all__ = ["LivePreview"]

logger = logging.getLogger("bluesky_timelapse.callbacks")

Display = Literal["auto", "notebook", "figure", "none"]
DISPLAYS: tuple[str, ...] = ("auto", "notebook", "figure", "none")


class LivePreview:
    """Show the latest frame the runs write, with the slot it belongs to.

    Parameters
    ----------
    field
        The data key to show; by default the first key whose data is external
        (``"FILESTORE:"`` or ``"STREAM:"``) and at least two-dimensional.
    display
        ``"notebook"`` updates one notebook output in place; ``"figure"`` draws into
        a pyplot figure; ``"none"`` only keeps :attr:`latest`; ``"auto"`` chooses
        ``"notebook"`` inside a Jupyter kernel and ``"figure"`` otherwise.
    cmap
        The colormap of grayscale frames.

    Attributes
    ----------
    latest
        The latest frame read, None before the first.
    title
        What the preview says about it: the data key, the slot and its time.
    frames_shown
        How many frames it has read and drawn.
    """

    def __init__(self, field: str | None = None, *, display: Display = "auto", cmap: str = "gray"):
        if display not in DISPLAYS:
            raise ValueError(f"display {display!r} is not allowed; allowed: {', '.join(DISPLAYS)}")
        self.field = field
        self.display: Display = _choose(display)
        self.cmap = cmap
        self.latest: np.ndarray[Any, Any] | None = None
        self.title = ""
        self.frames_shown = 0
        self._start_doc: Mapping[str, Any] = {}
        self._field: str | None = field
        self._resources: dict[str, Mapping[str, Any]] = {}
        self._datums: dict[str, tuple[str, int]] = {}
        self._stream_resources: dict[str, Mapping[str, Any]] = {}
        self._figure: Any = None
        self._image: Any = None
        self._handle: Any = None

    def __call__(self, name: str, doc: dict[str, Any]) -> None:
        """Take one document."""
        handler = getattr(self, f"_{name}", None)
        if handler is None:
            return
        try:
            handler(doc)
        except Exception:  # a preview must never break the run
            logger.exception("live preview could not show the %s document", name)

    def _start(self, doc: dict[str, Any]) -> None:
        self._start_doc = doc
        self._field = self.field
        self._resources.clear()
        self._datums.clear()
        self._stream_resources.clear()

    def _descriptor(self, doc: dict[str, Any]) -> None:
        if self._field is None:
            self._field = next(
                (
                    key
                    for key, data_key in doc["data_keys"].items()
                    if data_key.get("external") and len(data_key.get("shape") or ()) >= 2
                ),
                None,
            )

    def _resource(self, doc: dict[str, Any]) -> None:
        self._resources[doc["uid"]] = doc

    def _datum(self, doc: dict[str, Any]) -> None:
        self._datums[doc["datum_id"]] = (doc["resource"], frame_index(doc["datum_kwargs"]))

    def _event(self, doc: dict[str, Any]) -> None:
        datum_id = doc["data"].get(self._field) if self._field is not None else None
        if not isinstance(datum_id, str) or datum_id not in self._datums:
            return
        resource_uid, index = self._datums.pop(datum_id)
        self._show(read_frame(self._resources[resource_uid], index))

    def _stream_resource(self, doc: dict[str, Any]) -> None:
        self._stream_resources[doc["uid"]] = doc

    def _stream_datum(self, doc: dict[str, Any]) -> None:
        resource = self._stream_resources.get(doc["stream_resource"])
        if resource is None or resource.get("data_key") != self._field:
            return
        stop = int(doc["indices"]["stop"])
        if stop > int(doc["indices"]["start"]):
            self._show(read_frame(resource, stop - 1))

    def _show(self, frame: np.ndarray[Any, Any]) -> None:
        self.latest = frame
        self.frames_shown += 1
        start = self._start_doc
        parts = [str(self._field)]
        if "slot_index" in start:
            parts.append(f"slot {start['slot_index']}")
        if "scheduled_time" in start:
            parts.append(str(start["scheduled_time"]))
        self.title = " · ".join(parts)
        if self.display != "none":
            self._draw(frame)

    def _draw(self, frame: np.ndarray[Any, Any]) -> None:
        if self._figure is None:
            self._figure, self._image = self._new_figure(frame)
        else:
            self._image.set_data(frame)
            self._image.set_clim(float(frame.min()), float(frame.max()))
        self._figure.axes[0].set_title(self.title, fontsize="small")
        if self.display == "notebook":
            from IPython.display import Image, display

            # A PNG of its own: shown whatever matplotlib backend the kernel has.
            buffer = io.BytesIO()
            self._figure.savefig(buffer, format="png")
            png = Image(data=buffer.getvalue(), format="png")
            if self._handle is None:
                self._handle = display(png, display_id=True)
            else:
                self._handle.update(png)
        else:
            self._figure.canvas.draw_idle()

    def _new_figure(self, frame: np.ndarray[Any, Any]) -> tuple[Any, Any]:
        if self.display == "notebook":
            from matplotlib.figure import Figure

            figure = Figure(figsize=(5, 4))  # not pyplot's: the notebook shows it once
        else:
            import matplotlib.pyplot as plt

            figure = plt.figure(figsize=(5, 4))
        axes = figure.add_subplot()
        axes.set_axis_off()
        image = axes.imshow(frame, cmap=self.cmap if frame.ndim == 2 else None)
        return figure, image


def _choose(display: Display) -> Display:
    if display != "auto":
        return display
    try:
        from IPython import get_ipython
    except ImportError:
        return "figure"
    shell = get_ipython()
    return "notebook" if type(shell).__name__ == "ZMQInteractiveShell" else "figure"
