"""Suspenders for long timelapses: low disk space, a stale camera, outside a daily window,
a Tiled backlog.

A bluesky suspender watches an ophyd signal and holds the plan while the signal
says so. The suspenders here watch a :class:`PollingSignal`, which measures
something (free space, the age of the latest frame, the local time) now and then
every ``poll_interval`` seconds on a daemon thread, and they close two gaps that
bluesky's own suspenders leave open in long plans:

- **Already bad when installed.** bluesky's :class:`~bluesky.suspenders.SuspenderBase`
  learns the current value through ophyd's ``subscribe(..., run=True)``, which
  replays the last update the signal *emitted*. A signal that has emitted none
  since it was created (e.g. ``Signal(value=1)``) replays nothing, so the suspender
  does not trip and the plan runs. Ours measure while being installed, before
  subscribing, so the plan is held before its first message.
- **Turned bad while the RunEngine was paused.** bluesky asks the RunEngine to
  suspend only at the moment of the trip and only if it is running then; a trip
  while it is paused is never asked again, so ``RE.resume()`` carries on
  regardless. Ours measure again when ``RE.resume()`` is called and suspend
  before the plan goes on; any other trip the RunEngine could not hear (e.g.
  while another suspender was suspending it) is asked again at the next poll.

Every suspension is announced to a :class:`SuspensionLog` (by default the
module's :data:`suspension_log`), with the reason, at the moment the RunEngine
starts waiting and at the moment it stops.

Examples
--------
>>> RE.install_suspender(SuspendLowDiskSpace("/data", min_free="5GB"))  # doctest: +SKIP
>>> RE.install_suspender(SuspendStaleCamera(camera.image, max_age=900))  # doctest: +SKIP
>>> RE.install_suspender(SuspendOutsideWindow(("06:00", "20:00")))  # doctest: +SKIP
"""

from ._base import PollingSignal, PollingSuspender, SuspenderOptions
from ._camera import SuspendStaleCamera
from ._disk import DiskUsage, SpaceThreshold, SuspendLowDiskSpace, format_size
from ._log import SuspensionCallback, SuspensionEvent, SuspensionLog, suspension_log
from ._tiled_backlog import SuspendWhenTiledBacklog
from ._window import DailyWindow, SuspendOutsideWindow

__all__ = [
    "DailyWindow",
    "DiskUsage",
    "PollingSignal",
    "PollingSuspender",
    "SpaceThreshold",
    "SuspendLowDiskSpace",
    "SuspendOutsideWindow",
    "SuspendStaleCamera",
    "SuspendWhenTiledBacklog",
    "SuspenderOptions",
    "SuspensionCallback",
    "SuspensionEvent",
    "SuspensionLog",
    "format_size",
    "suspension_log",
]
