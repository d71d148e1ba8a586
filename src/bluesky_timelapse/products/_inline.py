"""Products shown in a notebook cell: the video playing, the picture."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ._video import VIDEO_CODECS


def inline(path: Path | str, *, width: int | None = None, embed: bool = True) -> Any:
    """A notebook display of a product: return it as a cell's last value.

    Parameters
    ----------
    path
        A video (``.mp4``, ``.webm``) or a picture (``.png``) this package wrote.
    width
        Display width in pixels (default the product's own).
    embed
        Put the video's bytes in the notebook (it then plays anywhere the notebook
        is opened). False links to ``path`` instead, for long videos; the notebook
        server must then be able to serve it (a path relative to the notebook).

    Returns
    -------
    IPython.display.Video or IPython.display.Image

    Raises
    ------
    ValueError
        For another suffix.
    FileNotFoundError
        If ``path`` does not exist.
    """
    from IPython.display import Image, Video

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (*VIDEO_CODECS, ".png"):
        raise ValueError(
            f"{str(path)!r} cannot be shown inline; allowed: {', '.join(VIDEO_CODECS)}, .png"
        )
    if not path.is_file():
        raise FileNotFoundError(f"{str(path)!r} does not exist")
    if suffix == ".png":
        return Image(filename=str(path), width=width)
    container, _ = VIDEO_CODECS[suffix]
    return Video(str(path), embed=embed, width=width, mimetype=f"video/{container}")
