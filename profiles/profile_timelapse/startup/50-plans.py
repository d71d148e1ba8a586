"""Plans. ``timelapse``, ``resume_timelapse`` and ``ingest_backlog`` are in the namespace.

A timelapse of the camera, one frame every 10 minutes for a day::

    RE(timelapse([camera], every("10m", count=144)))

``RE(...).plan_result`` is the timelapse id; after a crash continue with
``RE(resume_timelapse(timelapse_id, [camera]))``. Add your own plans below.
"""
