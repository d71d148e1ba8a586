"""Callbacks: the durable way into Tiled, and what a user watches while it runs.

- :class:`TiledSink`: journal every document locally, forward it to Tiled in the
  background, replay after a crash; each run ends in Tiled exactly once.
- :class:`TimelapseProgress`: slot k of N, the next slot, suspensions; a tqdm bar
  in a terminal, a widget in a notebook.
- :class:`LivePreview`: the latest frame, read from its file, drawn with matplotlib.
"""

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
