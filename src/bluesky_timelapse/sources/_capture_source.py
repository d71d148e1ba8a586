"""Frames read through OpenCV: a USB camera, a network stream or a video file."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

import numpy as np

from ..storage import FrameFormat
from ._opencv_capture import OpenCVCapture, check_number

SETTINGS: dict[str, str] = {"exposure": "CAP_PROP_EXPOSURE", "gain": "CAP_PROP_GAIN"}
"""The capture settings the cameras name, and the OpenCV property of each."""


class CaptureSource:
    """Frames read through an :class:`OpenCVCapture` (``cv2.VideoCapture``).

    A :class:`FrameSource`: :meth:`open` opens and configures the capture (which
    tells the frame format), :meth:`grab` reads the next frame, :meth:`close`
    releases the capture. Every OpenCV call runs on the capture's own thread,
    whichever thread calls these methods. The cameras open the source at stage.

    Parameters
    ----------
    source
        A camera index (``0`` for the first USB camera), a stream URL
        (``"rtsp://..."``, ``"http://..."``) or a video file path.
    name
        Who reads the capture, for messages and the capture thread's name.
    colour
        RGB frames ``(y, x, 3)`` if True (default), grayscale ``(y, x)`` if False.
    resolution
        Frame size ``(width, height)`` to ask the backend for at every open; None
        (default) keeps the backend's.
    exposure
        ``CAP_PROP_EXPOSURE`` to set at every open, in the backend's units; None
        (default) keeps the backend's.
    gain
        ``CAP_PROP_GAIN`` to set at every open; None (default) keeps the backend's.
    properties
        Other capture properties to set at every open, before the others, by name,
        e.g. ``{"CAP_PROP_AUTO_EXPOSURE": 1}``.
    backend
        The OpenCV capture backend to use, e.g. ``"V4L2"``, ``"FFMPEG"``,
        ``"GSTREAMER"``, ``"DSHOW"``, ``"MSMF"``; None (default) lets OpenCV choose.
    needed_by
        What needs OpenCV, for the ``ImportError`` when it is not installed.
    logger
        Where a setting the backend reports differently from the value asked for
        is logged as a warning; None (default) is the capture module's logger.

    Raises
    ------
    ImportError
        If OpenCV is not installed.
    ValueError
        For a setting that is not a finite number, a ``resolution`` that is not two
        integers >= 1, or an unknown property or backend name.
    """

    frame_format: FrameFormat
    """The frames' format, set at open from the frame size the backend reports."""

    def __init__(
        self,
        source: int | str | os.PathLike[str],
        *,
        name: str,
        colour: bool = True,
        resolution: tuple[int, int] | None = None,
        exposure: float | None = None,
        gain: float | None = None,
        properties: Mapping[str, float] | None = None,
        backend: str | None = None,
        needed_by: str = "CaptureSource",
        logger: logging.Logger | None = None,
    ) -> None:
        self.settings: dict[str, float | None] = {
            SETTINGS[label]: (
                None
                if value is None
                else self.check_setting(f"{label} ({SETTINGS[label]})", value)
            )
            for label, value in (("exposure", exposure), ("gain", gain))
        }
        """``CAP_PROP_...`` -> the value set at every open; None only reads the backend's."""
        self.capture = OpenCVCapture(
            source,
            name=name,
            colour=colour,
            resolution=resolution,
            properties=properties,
            backend=backend,
            needed_by=needed_by,
            logger=logger,
        )
        self.reported: dict[str, float] = {}
        """What the backend reported for each of ``settings`` at the last open."""

    @staticmethod
    def check_setting(name: str, value: object) -> float:
        """Return ``value`` as a float; raise ``ValueError`` naming ``name`` unless finite.

        Parameters
        ----------
        name
            The setting, for the message, e.g. ``"exposure (CAP_PROP_EXPOSURE)"``.
        value
            What was asked for.
        """
        return check_number(name, value)

    @property
    def name(self) -> str:
        """Who reads the capture, in its messages."""
        return self.capture.name

    @name.setter
    def name(self, name: str) -> None:
        self.capture.name = name

    def open(self) -> None:
        """Open the capture and apply the settings.

        Raises
        ------
        CaptureError
            If the source cannot be opened, refuses a setting or reports no frame
            size; the capture is released.
        """
        self.reported = self.capture.open(self.settings)
        self.frame_format = self.capture.frame_format

    def apply(self, property_name: str, value: float) -> float | None:
        """Ask for ``value`` of a setting at every open; set it now if the capture is open.

        Returns what the backend reports, or None while the capture is closed. A
        value the backend accepts but reports differently (rounded, clamped) is
        logged as a warning naming the property.

        Raises
        ------
        CaptureError
            If the backend refuses the value; the request is left as it was.
        """
        reported = None if self.capture.capture is None else self.capture.set(property_name, value)
        self.settings[property_name] = value
        return reported

    def grab(self, exposure: float) -> np.ndarray:
        """Read the next frame as RGB or grayscale; ``exposure`` is not used.

        A capture delivers frames at its own pace, exposed as its backend's
        ``CAP_PROP_EXPOSURE`` says.

        Raises
        ------
        CaptureError
            If no frame can be read (at the end of a video file: an error saying
            the file has no more frames).
        RuntimeError
            If the capture is not open.
        """
        return self.capture.read()

    def close(self) -> None:
        """Release the capture."""
        self.capture.release()
