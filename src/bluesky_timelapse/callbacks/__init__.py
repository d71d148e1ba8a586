"""Callbacks: the durable way into Tiled, and what a user watches while it runs.

- :class:`TiledSink`: journal every document locally, forward it to Tiled in the
  background, replay after a crash; each run ends in Tiled exactly once.
- :class:`TimelapseProgress`: slot k of N, the next slot, suspensions; a tqdm bar
  in a terminal, a widget in a notebook.
- :class:`LivePreview`: the latest frame, read from its file, drawn with matplotlib.
"""

from typing import TYPE_CHECKING

from .._lazy import lazy_attributes

if TYPE_CHECKING:
    from ._journal import Entry, RunJournal, recover
    from ._preview import LivePreview
    from ._progress import TimelapseProgress
    from ._tiled_sink import SinkHealth, TiledSink, read_health

__all__ = [
    "Entry",
    "LivePreview",
    "RunJournal",
    "SinkHealth",
    "TiledSink",
    "TimelapseProgress",
    "read_health",
    "recover",
]

# Imported on first use: a sink's forwarding process imports what forwarding
# needs and not the display callbacks.
__getattr__, __dir__ = lazy_attributes(
    __name__,
    {
        "Entry": "._journal",
        "RunJournal": "._journal",
        "recover": "._journal",
        "LivePreview": "._preview",
        "TimelapseProgress": "._progress",
        "SinkHealth": "._tiled_sink",
        "TiledSink": "._tiled_sink",
        "read_health": "._tiled_sink",
    },
)
