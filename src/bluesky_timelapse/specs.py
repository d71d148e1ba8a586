"""The document vocabulary: Resource specs and the mimetypes Tiled reads them as.

Every spec and every mimetype the package writes or reads is named here, once.

The standard specs (``AD_TIFF``, ``AD_HDF5``, ``NPY_SEQ``) are known to Tiled and
databroker already. Zarr has no standard Resource spec, so frames written to Zarr
carry :data:`ZARR_ARRAY`, which :data:`SPEC_TO_MIMETYPE` maps to Tiled's Zarr
mimetype; pass it to ``TiledWriter(..., spec_to_mimetype=SPEC_TO_MIMETYPE)``.
"""

from typing import Final

AD_TIFF: Final = "AD_TIFF"
"""One TIFF file per frame; the resource_kwargs are template and filename."""

AD_HDF5: Final = "AD_HDF5"
"""One HDF5 file per run; frames stacked in the dataset ``/entry/data/data``."""

NPY_SEQ: Final = "NPY_SEQ"
"""One ``.npy`` file per frame, ``{resource_path}_{index}.npy``, as ``ophyd.sim`` writes."""

AD_JPEG: Final = "AD_JPEG"
"""One JPEG file per frame; the resource_kwargs are template and filename, as AD_TIFF's."""

PNG_FILE: Final = "BLUESKY_TIMELAPSE_PNG"
"""One PNG file per frame; the resource_kwargs are template and filename, as AD_TIFF's."""

JPEG_SEQUENCE_MIMETYPE: Final = "multipart/related;type=image/jpeg"
"""Tiled's mimetype of one-image-per-file sequences read with Pillow."""

TIFF_SEQUENCE_MIMETYPE: Final = "multipart/related;type=image/tiff"
"""Tiled's mimetype of one-TIFF-per-frame sequences."""

NPY_SEQUENCE_MIMETYPE: Final = "multipart/related;type=application/x-npy"
"""Tiled's mimetype of one-``.npy``-per-frame sequences."""

HDF5_MIMETYPE: Final = "application/x-hdf5"
"""Tiled's mimetype of an HDF5 dataset."""

ZARR_MIMETYPE: Final = "application/x-zarr"
"""Tiled's mimetype of a Zarr array."""

ZARR_ARRAY: Final = "BLUESKY_TIMELAPSE_ZARR"
"""A Zarr v3 array of shape ``(N, *frame_shape)``; the resource points at the array."""

HDF5_DATASET: Final = "/entry/data/data"
"""The dataset TiledWriter assumes for :data:`AD_HDF5` resources."""

SPEC_TO_MIMETYPE: Final[dict[str, str]] = {
    ZARR_ARRAY: ZARR_MIMETYPE,
    AD_JPEG: JPEG_SEQUENCE_MIMETYPE,
    PNG_FILE: JPEG_SEQUENCE_MIMETYPE,
}
"""The specs of this package that Tiled does not know, mapped to its mimetypes."""

STREAM_MIMETYPES: Final[dict[str, str]] = {
    AD_TIFF: TIFF_SEQUENCE_MIMETYPE,
    AD_HDF5: HDF5_MIMETYPE,
    NPY_SEQ: NPY_SEQUENCE_MIMETYPE,
    ZARR_ARRAY: ZARR_MIMETYPE,
}
"""The StreamResource mimetype of each spec our writers write (ophyd-async devices)."""

TIMELAPSE_SPEC: Final = "BlueskyTimelapse"
"""The Tiled spec of a timelapse's index node, ``timelapses/<timelapse_id>``.

It holds the table ``slots`` (one row per slot's run, as the sink forwarded it)
and, under ``<stream>/<field>``, one array per camera field with every slot's
frame; see :doc:`/tiled`."""

TIMELAPSE_SPEC_VERSION: Final = "1"
"""The version of the layout :data:`TIMELAPSE_SPEC` names."""
