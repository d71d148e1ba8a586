"""The session: the one place where a RunEngine, Tiled, callbacks and cameras are wired.

:func:`configure` sets up an interactive session (what an IPython profile
needs); ``bluesky-timelapse demo`` and ``run``, and the queueserver startup,
use it too, so every front end runs the same wiring::

    from bluesky_timelapse.session import configure

    session = configure(get_ipython().user_ns)
    RE(timelapse([session.default_camera()], every("10m", count=144)))

Reading back without a session (``bluesky-timelapse export``) picks its server the
same way, with :func:`choose_tiled`.
"""

from ._session import Session, configure, current_session
from ._tiled_choice import choose_tiled

__all__ = ["Session", "choose_tiled", "configure", "current_session"]
