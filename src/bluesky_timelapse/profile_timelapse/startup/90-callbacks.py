"""Callbacks. The session subscribed the Tiled sink and the best-effort callback.

``bec.enable_plots()`` turns plotting on (matplotlib); ``sink.health()`` shows the
backlog on the way to Tiled; ``session.close()`` forwards what is left and stops
the embedded Tiled server (leaving IPython does that too). Subscribe your own
below, e.g. ``RE.subscribe(print_documents)``.
"""
