"""Helpers for the tests: schema checks, document filters, readers of written frames."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import event_model
import h5py
import numpy as np
import tifffile
import zarr

from bluesky_timelapse.devices import SimCamera

Documents = list[tuple[str, dict[str, Any]]]


def validate(documents: Documents) -> None:
    """Check every document against the event-model schema."""
    for name, doc in documents:
        event_model.schema_validators[event_model.DocumentNames[name]].validate(doc)


def only(documents: Documents, name: str) -> list[dict[str, Any]]:
    """The documents called ``name``."""
    return [doc for doc_name, doc in documents if doc_name == name]


def read_frames_from_resource(resource: dict[str, Any], count: int) -> np.ndarray:
    """Read ``count`` frames the way a consumer does: with the format's own library."""
    path = Path(resource["root"], resource["resource_path"])
    spec = resource["spec"]
    kwargs = resource["resource_kwargs"]
    if spec == "AD_TIFF":
        names = [kwargs["template"] % ("", kwargs["filename"], i) for i in range(count)]
        return np.stack([tifffile.imread(path / name) for name in names])
    if spec == "AD_HDF5":
        with h5py.File(path, "r", swmr=True) as file:
            return file["/entry/data/data"][:count]
    if spec == "NPY_SEQ":
        return np.stack([np.load(f"{path}_{i}.npy") for i in range(count)])
    if spec == "BLUESKY_TIMELAPSE_ZARR":
        return zarr.open_array(path, mode="r")[:count]
    raise AssertionError(f"unexpected spec {spec}")


def read_frames_from_stream_resource(stream_resource: dict[str, Any], count: int) -> np.ndarray:
    """Read ``count`` frames a StreamResource points at, with the format's own library."""
    uri = stream_resource["uri"]
    assert uri.startswith("file://localhost/"), uri
    path = Path(uri.removeprefix("file://localhost"))
    mimetype, parameters = stream_resource["mimetype"], stream_resource["parameters"]
    if mimetype == "multipart/related;type=image/tiff":
        names = [parameters["template"] % ("", parameters["filename"], i) for i in range(count)]
        return np.stack([tifffile.imread(path / name) for name in names])
    if mimetype == "application/x-hdf5":
        with h5py.File(path, "r", swmr=True) as file:
            return file[parameters["dataset"]][:count]
    if mimetype == "multipart/related;type=application/x-npy":
        return np.stack([np.load(f"{path}_{i}.npy") for i in range(count)])
    if mimetype == "application/x-zarr":
        return zarr.open_array(path, mode="r")[:count, 0]  # stored (N, 1, y, x)
    raise AssertionError(f"unexpected mimetype {mimetype}")


WRITERS = ["tiff", "hdf5", "zarr", "npy"]
FORMATS: dict[str, dict[str, Any]] = {
    "mono-uint16": {"shape": (48, 64), "dtype": "uint16", "colour": False},
    "rgb-uint8": {"shape": (48, 64), "dtype": "uint8", "colour": True},
}


def install_distribution(
    directory: Path,
    name: str,
    entry_points: dict[str, dict[str, str]],
    modules: dict[str, str],
) -> None:
    """Lay out an installed distribution in ``directory`` (put it on ``sys.path``).

    ``entry_points`` maps group -> entry point name -> ``module:attribute``;
    ``modules`` maps module name -> source.
    """
    dist_info = directory / f"{name}-1.0.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    lines = []
    for group, points in entry_points.items():
        lines.append(f"[{group}]")
        lines.extend(f"{point} = {target}" for point, target in points.items())
    (dist_info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    for module, source in modules.items():
        (directory / f"{module}.py").write_text(source)


class FlakyCamera(SimCamera):
    """A SimCamera whose trigger raises for chosen triggers (counted from 1)."""

    def __init__(self, *args: Any, fail_on: Iterable[int] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fail_on = set(fail_on)
        self.triggers = 0

    def trigger(self) -> Any:
        self.triggers += 1
        if self.triggers in self.fail_on:
            raise RuntimeError(f"sensor timeout on trigger {self.triggers}")
        return super().trigger()


def write_video(path: Path, frames: np.ndarray) -> Path:
    """Write BGR ``frames`` (N, y, x, 3) uint8 as a lossless FFV1 video; return ``path``.

    FFV1 in Matroska is lossless in opencv-python-headless: reading the file back
    with ``cv2.VideoCapture`` gives exactly ``frames``.
    """
    import cv2  # optional dependency, only for the tests that need it

    height, width = frames.shape[1:3]
    video = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"FFV1"), 5.0, (width, height))
    assert video.isOpened(), f"this OpenCV cannot write FFV1 to {path}"
    for frame in frames:
        video.write(frame)
    video.release()
    return path
