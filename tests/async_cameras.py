"""The ophyd-async cameras as the tests build them: connected, writing below a directory."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from ophyd_async.core import StaticPathProvider, UUIDFilenameProvider, init_devices

from bluesky_timelapse.async_devices import AsyncFolderCamera, AsyncOpenCVCamera, AsyncSimCamera
from folder_files import EXTENSIONS, TEMPLATE


def async_sim_camera(directory: Path, name: str = "acam", **kwargs: Any) -> AsyncSimCamera:
    with init_devices():
        camera = AsyncSimCamera(
            StaticPathProvider(UUIDFilenameProvider(), directory), name=name, **kwargs
        )
    return camera


def async_opencv_camera(directory: Path, source: object, **kwargs: Any) -> AsyncOpenCVCamera:
    with init_devices():
        acam = AsyncOpenCVCamera(
            StaticPathProvider(UUIDFilenameProvider(), directory), source=source, **kwargs
        )
    return acam


def template_in(folder: Path, image_format: str) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder / TEMPLATE).replace("{ext}", EXTENSIONS[image_format])


def async_folder_camera(
    copies: Path, folder: Path, image_format: str = "tiff", **kwargs: Any
) -> AsyncFolderCamera:
    with init_devices():
        acam = AsyncFolderCamera(
            StaticPathProvider(UUIDFilenameProvider(), copies),
            template=template_in(folder, image_format),
            **kwargs,
        )
    return acam


def announce_requests(camera: AsyncFolderCamera) -> threading.Semaphore:
    """Released each time the camera starts waiting for a file (its program then writes one)."""
    triggered = threading.Semaphore(0)
    feed = camera.source.feed
    request = feed.request

    def announcing():
        future = request()
        triggered.release()
        return future

    feed.request = announcing
    return triggered


def written_files(directory: Path) -> list[Path]:
    return [path for path in directory.rglob("*") if path.is_file()]
