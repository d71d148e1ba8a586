"""Read one frame back from what a Resource or StreamResource document points at.

The readers of the formats' own libraries (tifffile, h5py, zarr, numpy, Pillow),
addressed the way the documents address a frame: a Resource and its Datum's
``datum_kwargs``, or a StreamResource and an index. For consumers that hold the
documents but not the device: a live preview, a quick check of a file.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import numpy as np

from .. import specs

__all__ = ["frame_index", "read_frame", "resource_path"]

_TEMPLATE_SPECS = {specs.AD_TIFF, specs.AD_JPEG, specs.PNG_FILE}
_PILLOW_SPECS = {specs.AD_JPEG, specs.PNG_FILE}

SUPPORTED = (
    *sorted({*_TEMPLATE_SPECS, specs.AD_HDF5, specs.NPY_SEQ, specs.ZARR_ARRAY}),
    specs.TIFF_SEQUENCE_MIMETYPE,
    specs.JPEG_SEQUENCE_MIMETYPE,
    specs.HDF5_MIMETYPE,
    specs.NPY_SEQUENCE_MIMETYPE,
    specs.ZARR_MIMETYPE,
)
"""The Resource specs and StreamResource mimetypes :func:`read_frame` reads."""


def frame_index(datum_kwargs: Mapping[str, Any]) -> int:
    """The frame a Datum's ``datum_kwargs`` address (``point_number`` or ``index``; else 0)."""
    return int(datum_kwargs.get("point_number", datum_kwargs.get("index", 0)))


def resource_path(resource: Mapping[str, Any]) -> Path:
    """The local path a Resource (``root`` + ``resource_path``) or StreamResource (``uri``) names.

    Raises
    ------
    ValueError
        If a StreamResource's ``uri`` is not a ``file:`` URI of this host.
    """
    if "uri" in resource:
        parsed = urlparse(str(resource["uri"]))
        if parsed.scheme != "file" or parsed.netloc not in ("", "localhost"):
            raise ValueError(
                f"StreamResource uri {resource['uri']!r} is not a local file; "
                "allowed: file://localhost/... or file:///..."
            )
        return Path(unquote(parsed.path))
    return Path(resource.get("root", ""), resource["resource_path"])


def read_frame(resource: Mapping[str, Any], index: int) -> np.ndarray[Any, Any]:
    """Read frame ``index`` of a Resource or StreamResource document.

    Parameters
    ----------
    resource
        The Resource (has ``spec``) or StreamResource (has ``mimetype``) document.
    index
        The frame: :func:`frame_index` of a Datum's ``datum_kwargs``, or an index in
        a StreamDatum's ``indices``.

    Raises
    ------
    ValueError
        If the spec or mimetype is not one of :data:`SUPPORTED`.
    OSError, KeyError
        If the file or the frame is not there (yet).
    """
    path = resource_path(resource)
    if "mimetype" in resource:
        return _read_stream_frame(path, resource["mimetype"], resource["parameters"], index)
    spec, kwargs = resource["spec"], resource.get("resource_kwargs", {})
    if spec in _TEMPLATE_SPECS:
        return _read_templated(path, kwargs, index, pillow=spec in _PILLOW_SPECS)
    if spec == specs.AD_HDF5:
        return _read_hdf5(path, specs.HDF5_DATASET, index)
    if spec == specs.NPY_SEQ:
        return np.load(f"{path}_{index}.npy")
    if spec == specs.ZARR_ARRAY:
        return _read_zarr(path, index)
    raise ValueError(f"cannot read Resource spec {spec!r}; allowed: {', '.join(SUPPORTED)}")


def _read_stream_frame(
    path: Path, mimetype: str, parameters: Mapping[str, Any], index: int
) -> np.ndarray[Any, Any]:
    if mimetype == specs.TIFF_SEQUENCE_MIMETYPE:
        return _read_templated(path, parameters, index, pillow=False)
    if mimetype == specs.JPEG_SEQUENCE_MIMETYPE:
        return _read_templated(path, parameters, index, pillow=True)
    if mimetype == specs.HDF5_MIMETYPE:
        return _read_hdf5(path, str(parameters.get("dataset", specs.HDF5_DATASET)), index)
    if mimetype == specs.NPY_SEQUENCE_MIMETYPE:
        return np.load(f"{path}_{index}.npy")
    if mimetype == specs.ZARR_MIMETYPE:
        frame = _read_zarr(path, index)
        # ophyd-async stores frames with a collection axis: (N, 1, *frame_shape).
        return frame[0] if frame.ndim >= 3 and frame.shape[0] == 1 else frame
    raise ValueError(
        f"cannot read StreamResource mimetype {mimetype!r}; allowed: {', '.join(SUPPORTED)}"
    )


def _read_templated(
    directory: Path, kwargs: Mapping[str, Any], index: int, *, pillow: bool
) -> np.ndarray[Any, Any]:
    template, filename = str(kwargs["template"]), str(kwargs["filename"])
    prefix = f"{directory}/"
    # A sequence's template takes (directory, name, index); a one-file one (directory, name).
    name = (
        template % (prefix, filename, index)
        if _fields(template) == 3
        else (template % (prefix, filename))
    )
    if pillow:
        from PIL import Image

        with Image.open(name) as image:
            return np.asarray(image)
    import tifffile

    return np.asarray(tifffile.imread(name))


def _fields(template: str) -> int:
    return template.replace("%%", "").count("%")


def _read_hdf5(path: Path, dataset: str, index: int) -> np.ndarray[Any, Any]:
    import h5py

    with h5py.File(path, "r", swmr=True) as file:
        return np.asarray(file[dataset][index])


def _read_zarr(path: Path, index: int) -> np.ndarray[Any, Any]:
    import zarr

    return np.asarray(zarr.open_array(path, mode="r")[index])
