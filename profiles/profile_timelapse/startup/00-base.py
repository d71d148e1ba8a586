"""The session: RunEngine, Tiled, callbacks, suspenders, log file, plugins.

Puts ``RE``, ``sink``, ``bec``, ``tiled``, ``session``, ``bp``/``bps``/``bpp``,
``count``, ``every``/``at``/``daily`` and every installed plugin's plans and
camera classes into the namespace. Set ``$BLUESKY_TIMELAPSE_DIR`` to choose the
data directory, ``$BLUESKY_TIMELAPSE_TILED_URI`` and ``$TILED_API_KEY`` to use
a Tiled server other than the embedded one.
"""

from IPython import get_ipython

from bluesky_timelapse.session import configure

configure(get_ipython().user_ns)
