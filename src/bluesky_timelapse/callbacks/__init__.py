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
    from .journal import Entry, RunJournal, recover
    from .preview import LivePreview
    from .progress import TimelapseProgress
    from .tiled_sink import SinkHealth, TiledSink, read_health

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
__getattr__ = lazy_attributes(
    __name__,
    {
        "Entry": ".journal",
        "RunJournal": ".journal",
        "recover": ".journal",
        "LivePreview": ".preview",
        "TimelapseProgress": ".progress",
        "SinkHealth": ".tiled_sink",
        "TiledSink": ".tiled_sink",
        "read_health": ".tiled_sink",
    },
)
