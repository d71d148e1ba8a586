"""A startup module for bluesky-queueserver: the timelapse session in an RE Worker.

Imported by RE Manager (``--startup-module bluesky_timelapse.qserver``), it sets
up the session of :func:`bluesky_timelapse.session.configure` in the worker's
namespace and adds a camera:

=====================  ============================================================
``RE``                 the session's RunEngine: metadata in ``md.json``, documents
                       to Tiled through the journaling sink, the recommended suspenders
``camera``             a :class:`~bluesky_timelapse.devices.SimCamera` writing HDF5
                       under the data directory's ``frames/camera/``
``timelapse``          the plan, with queue annotations: ``grace``, ``lead``,
                       ``warmup``, ``standby_threshold`` >= 0
``resume_timelapse``,  the other plans, as they are
``ingest_backlog``
``count``              ``bluesky.plans.count``
=====================  ============================================================

The queue checks every plan's parameters against its type hints (``missed`` and
``on_failure`` one of their values, ``md`` a dict, ...); only ``timelapse`` has
numbers that need a range.

The session's other names (``bps``, ``every``, ...) are there too, as in the
IPython profile; names starting with ``_`` are hidden from every user group by
the permissions file.

The data directory is ``$BLUESKY_TIMELAPSE_DIR`` (else the user data directory);
Tiled is the embedded server for that directory (started by the worker, or the
one ``bluesky-timelapse serve`` runs) unless ``$BLUESKY_TIMELAPSE_TILED_URI`` (and
``$TILED_API_KEY``) name another. Timelapses are stored in its ``timelapses/``.

RE Manager also needs a permissions file (the one shipped in the package, whose
path :data:`PERMISSIONS_FILE` holds) and a writable place for the list of plans and
devices it writes on every environment open. ``python -m bluesky_timelapse.qserver``
prints the whole command line for the current data directory, which is::

    start-re-manager --startup-module bluesky_timelapse.qserver \\
        --existing-plans-devices "$BLUESKY_TIMELAPSE_DIR/qserver/existing_plans_and_devices.yaml" \\
        --user-group-permissions "<PERMISSIONS_FILE>" \\
        --update-existing-plans-devices ALWAYS \\
        --zmq-control-addr tcp://127.0.0.1:60615 --zmq-info-addr tcp://127.0.0.1:60625

(create ``$BLUESKY_TIMELAPSE_DIR/qserver`` first; a Redis server must run, at
``localhost:6379`` unless ``--redis-addr`` says otherwise). Then, e.g. with
``bluesky_queueserver_api``::

    RM.environment_open()
    RM.item_add(BPlan("timelapse", ["camera"], {"kind": "every", "interval": "10m", "count": 144}))
    RM.queue_start()
"""

from __future__ import annotations

import functools
import os
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bluesky_timelapse.data_dir import DataDirectory

PERMISSIONS_FILE = Path(__file__).absolute().parent / "_qserver_permissions.yaml"
"""The user group permissions to give RE Manager (``--user-group-permissions``)."""

EXISTING_PLANS_AND_DEVICES = "existing_plans_and_devices.yaml"
"""The ``--existing-plans-devices`` file, in the data directory's ``qserver/``."""

_NON_NEGATIVE = ("grace", "lead", "warmup", "standby_threshold")


def _command_line(data_dir: Path | None = None) -> list[str]:
    """The ``start-re-manager`` command line for ``data_dir`` (default: the current one)."""
    paths = DataDirectory.given(data_dir)
    return [
        "start-re-manager",
        "--startup-module",
        "bluesky_timelapse.qserver",
        "--existing-plans-devices",
        str(paths.qserver / EXISTING_PLANS_AND_DEVICES),
        "--user-group-permissions",
        str(PERMISSIONS_FILE),
        "--update-existing-plans-devices",
        "ALWAYS",
        "--zmq-control-addr",
        "tcp://127.0.0.1:60615",
        "--zmq-info-addr",
        "tcp://127.0.0.1:60625",
    ]


def _for_the_queue(plan: Callable[..., Any], annotation: dict[str, Any]) -> Callable[..., Any]:
    """A plan like ``plan`` (same signature and docstring) with a queue annotation.

    The annotation goes on a wrapper, so ``plan`` itself stays unchanged.
    """
    from bluesky_queueserver import parameter_annotation_decorator

    @functools.wraps(plan)
    def queued(*args: Any, **kwargs: Any) -> Any:
        return (yield from plan(*args, **kwargs))

    return parameter_annotation_decorator(annotation)(queued)


def _non_negative(*names: str) -> dict[str, Any]:
    return {
        "parameters": {
            name: {"min": 0, "description": f"{name}, in seconds (>= 0)"} for name in names
        }
    }


def _start() -> None:
    """Fill this module's namespace: the session, ``camera``, the annotated plans."""
    from bluesky_timelapse import plans
    from bluesky_timelapse.session import configure

    namespace = globals()
    session = configure(
        namespace,
        data_dir=os.environ.get("BLUESKY_TIMELAPSE_DIR") or None,
        progress=False,  # no terminal in the worker
    )
    namespace["camera"] = session.default_camera()
    namespace["timelapse"] = _for_the_queue(plans.timelapse, _non_negative(*_NON_NEGATIVE))


if __name__ == "__main__":
    print(shlex.join(_command_line(Path(sys.argv[1]) if len(sys.argv) > 1 else None)))
else:
    _start()
