"""Callbacks: the durable way into Tiled.

- :class:`TiledSink`: journal every document locally, forward it to Tiled in the
  background, replay after a crash; each run ends in Tiled exactly once.
"""

from .journal import Entry, RunJournal, recover
from .tiled_sink import SinkHealth, TiledSink, read_health

__all__ = ["Entry", "RunJournal", "SinkHealth", "TiledSink", "read_health", "recover"]
