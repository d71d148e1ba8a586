"""Callbacks. The session subscribed the Tiled sink, the best-effort callback and
the timelapse progress bar (``session.progress``).

``bec.enable_plots()`` turns plotting on (matplotlib); ``sink.health()`` shows the
backlog on the way to Tiled; ``session.close()`` forwards what is left and stops
the embedded Tiled server (leaving IPython does that too). Subscribe your own
below, e.g. the live preview of the latest frame (``LivePreview`` comes from the
``bluesky_timelapse.callbacks`` entry points, as any installed callback does):

    preview = LivePreview()
    RE.subscribe(preview)
"""
