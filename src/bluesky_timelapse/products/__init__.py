"""What a timelapse becomes: videos, GIFs, a contact sheet, a keogram, star trails, OME-Zarr.

Every product takes what :func:`bluesky_timelapse.tiled.load` returns, so it works
against the embedded Tiled server and a facility's alike, reads the frames a batch
at a time (fetched concurrently, never the whole timelapse in memory), maps them to
8 bits once for the whole timelapse (:class:`Tone`: no flicker), shows a progress
bar and writes its file under a temporary name renamed when complete::

    from bluesky_timelapse.products import contact_sheet, select, write_video
    from bluesky_timelapse.tiled import load

    frames = load(client, "garden-1")
    write_video(frames, "garden.mp4", duration=20, label="{time:%d %b %H:%M}")
    contact_sheet(select(frames, every=6), "garden.png")
    inline("garden.mp4")  # in a notebook: the video plays in the cell
"""

from ._frames import Frame, Unreadable, UnreadableFrameWarning, select, stream
from ._gif import write_gif
from ._inline import inline
from ._ome_zarr import ATTRIBUTES_KEY, write_ome_zarr
from ._pictures import contact_sheet, keogram, star_trails
from ._tone import Tone, ToneMap
from ._video import VIDEO_CODECS, write_video

__all__ = [
    "ATTRIBUTES_KEY",
    "VIDEO_CODECS",
    "Frame",
    "Tone",
    "ToneMap",
    "Unreadable",
    "UnreadableFrameWarning",
    "contact_sheet",
    "inline",
    "keogram",
    "select",
    "star_trails",
    "stream",
    "write_gif",
    "write_ome_zarr",
    "write_video",
]
