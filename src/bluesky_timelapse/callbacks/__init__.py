"""Callbacks: the durable way into Tiled.

- :class:`TiledSink`: journal every document locally, forward it to Tiled in the
  background, replay after a crash; each run ends in Tiled exactly once.
"""

from .journal import RunJournal, recover
from .tiled_sink import SinkHealth, TiledSink, read_health

__all__ = ["RunJournal", "SinkHealth", "TiledSink", "read_health", "recover"]
