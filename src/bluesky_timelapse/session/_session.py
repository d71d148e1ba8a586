"""One call that sets up an interactive session: what an IPython profile needs.

:func:`configure` is to this package what ``nslsii.configure_base`` is to a
beamline, without EPICS: a RunEngine whose metadata (``scan_id``) survives
restarts, every document journaled and forwarded to Tiled by a
:class:`~bluesky_timelapse.callbacks.TiledSink`, the best-effort callback and a
progress bar, the recommended suspenders, a log file, and the plans and
camera classes of every installed plugin in the namespace::

    from bluesky_timelapse.session import configure

    session = configure(get_ipython().user_ns)
    camera = session.default_camera()  # a SimCamera writing under frames/
    RE(timelapse([camera], every("10m", count=144)))

It is the one wiring path: the IPython profile, ``bluesky-timelapse demo`` and
``run``, and the queueserver startup all build their RunEngine, sink, Tiled
server and camera here. Everything lives in the data directory
(:class:`~bluesky_timelapse.data_dir.DataDirectory`: ``$BLUESKY_TIMELAPSE_DIR``
or the user data directory), laid out as every command lays it out.
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._files import make_private_directory
from ..callbacks import LivePreview, TiledSink, TimelapseProgress
from ..data_dir import DataDirectory, use_session_data_dir
from ..devices import SimCamera
from ..persistence import PersistentMetadata
from ..plans import install_commands
from ..plugins import CALLBACKS, DEVICES, PLANS, BrokenPlugin, load_plugins
from ..suspenders import SuspendLowDiskSpace, SuspendWhenTiledBacklog
from ..tiled import LocalTiled, TiledTarget, tiled_settings
from ._log_file import attach_log_file, detach_log_file
from ._tiled_choice import choose_tiled

logger = logging.getLogger("bluesky_timelapse.session")

_lock = threading.Lock()
_current: Session | None = None


@dataclass(eq=False)
class Session:
    """What :func:`configure` set up; :meth:`close` takes it down again.

    Attributes
    ----------
    RE
        The RunEngine.
    sink
        The :class:`~bluesky_timelapse.callbacks.TiledSink` subscribed to ``RE``.
    bec
        The ``BestEffortCallback`` subscribed to ``RE``.
    tiled
        A Tiled client of the server the sink forwards to.
    tiled_uri
        That server's URI (no key in it).
    server
        The embedded server this session started, or None (another process runs
        it, or ``tiled_uri`` names another server).
    data_dir
        The data directory.
    namespace
        The names :func:`configure` put into the user namespace.
    suspenders
        The suspenders installed on ``RE``.
    broken_plugins
        Plugins that failed to load (each logged as a warning).
    progress
        The timelapse progress display subscribed to ``RE``, or None.
    preview
        The live preview subscribed to ``RE``, or None.
    log_file
        The rotating log file, or None.
    """

    RE: Any
    sink: TiledSink
    bec: Any
    tiled: Any
    tiled_uri: str
    server: LocalTiled | None
    data_dir: Path
    namespace: dict[str, Any] = field(default_factory=dict)
    suspenders: list[Any] = field(default_factory=list)
    broken_plugins: list[BrokenPlugin] = field(default_factory=list)
    progress: TimelapseProgress | None = None
    preview: LivePreview | None = None
    log_file: Path | None = None
    _requested_uri: str | None = field(default=None, repr=False)
    _tokens: list[int] = field(default_factory=list, repr=False)
    _log_handler: logging.Handler | None = field(default=None, repr=False)
    _closed: bool = field(default=False, repr=False)

    @property
    def paths(self) -> DataDirectory:
        """The data directory's parts (``paths.frames``, ``paths.timelapses``...)."""
        return DataDirectory(self.data_dir)

    @property
    def frames_dir(self) -> Path:
        """Where cameras should write frames: ``data_dir / "frames"``."""
        return self.paths.frames

    def default_camera(self, name: str = "camera", **options: Any) -> SimCamera:
        """The session's simulated camera: colour 240x320 HDF5 under ``frames/<name>/``.

        Parameters
        ----------
        name
            The device name, also its directory under ``frames/``.
        options
            Any other :class:`~bluesky_timelapse.devices.SimCamera` argument,
            replacing the defaults (``writer="hdf5"``, ``shape=(240, 320)``,
            ``colour=True``, ``dtype="uint8"``, ``write_path_template=
            "<name>/%Y/%m/%d"``).
        """
        defaults: dict[str, Any] = {
            "root": str(self.frames_dir),
            "write_path_template": f"{name}/%Y/%m/%d",
            "writer": "hdf5",
            "shape": (240, 320),
            "colour": True,
            "dtype": "uint8",
        }
        return SimCamera(name=name, **(defaults | options))

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has run."""
        return self._closed

    def close(self, timeout: float = 30.0) -> None:
        """Forward what the sink holds (up to ``timeout`` s), then take everything down.

        Unsubscribes the callbacks, removes the suspenders, closes the sink (what it
        could not send stays in the journal for the next session), stops the
        embedded server if this session started it, and detaches the log file.
        Safe to call more than once; afterwards :func:`configure` makes a new session.
        """
        global _current
        with _lock:
            if self._closed:
                return
            self._closed = True
            if _current is self:
                _current = None
                use_session_data_dir(None)
        atexit.unregister(self.close)
        logger.info("closing the session (data directory %s)", self.data_dir)
        for suspender in self.suspenders:
            self.RE.remove_suspender(suspender)
        for token in self._tokens:
            self.RE.unsubscribe(token)
        self.RE.waiting_hook = None
        if self.progress is not None:
            self.progress.close()
        try:
            self.sink.close(timeout=timeout)
        finally:
            if self.server is not None:
                self.server.stop()
            if self._log_handler is not None:
                detach_log_file(self._log_handler)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def configure(
    user_ns: MutableMapping[str, Any] | None = None,
    *,
    data_dir: Path | str | None = None,
    tiled_uri: str | None = None,
    api_key: str | None = None,
    plots: bool = False,
    tables: bool = True,
    progress: bool = True,
    preview: bool = False,
    suspenders: bool = True,
    min_free: int | str = "1GB",
    max_backlog: int = 10_000,
    log_file: bool | Path | str = True,
    log_level: int | str = logging.INFO,
) -> Session:
    """Set up a RunEngine, Tiled, callbacks, suspenders and plugins; fill ``user_ns``.

    Calling it again while the session is open returns the same session (and
    fills ``user_ns`` again): nothing is subscribed twice and no second server is
    started; ``plots``, ``progress`` and the other settings are not applied again.
    After :meth:`Session.close` it makes a new one.

    Parameters
    ----------
    user_ns
        The namespace to fill, e.g. ``get_ipython().user_ns`` or ``globals()``:
        ``RE``, ``sink``, ``bec``, ``tiled`` (a client), ``session``, ``bp``,
        ``bps``, ``bpp``, ``count``, the schedules ``every``, ``at``, ``daily``,
        and every plugin's plan functions, device classes (not instances) and
        callbacks under their entry point names. None fills nothing; the names
        are in :attr:`Session.namespace` either way.
    data_dir
        Where everything lives; default ``$BLUESKY_TIMELAPSE_DIR`` or the user
        data directory. While the session is open it is the default data
        directory of the package (:meth:`~bluesky_timelapse.data_dir.DataDirectory.default`):
        ``timelapse()`` without ``store`` records in ``data_dir/timelapses``.
    tiled_uri
        A Tiled server to send the documents to; default
        ``$BLUESKY_TIMELAPSE_TILED_URI``. Neither set: the embedded server for
        ``data_dir/tiled``, connected to if another process runs it (``bluesky-timelapse
        serve``), else started here (on 127.0.0.1, a free port) and stopped by
        :meth:`Session.close`. The server must be able to read ``data_dir/frames``.
    api_key
        The key of ``tiled_uri``; default ``$TILED_API_KEY``. The embedded
        server's key is read from its key file.
    plots
        Let the ``BestEffortCallback`` plot (matplotlib); it prints tables only
        otherwise.
    tables
        Let the ``BestEffortCallback`` print its tables, headings and baselines
        (False for a program with its own output, like ``demo`` and ``run``).
    progress
        Show the progress of a running timelapse (a
        :class:`~bluesky_timelapse.callbacks.TimelapseProgress`: a tqdm bar, a widget
        in a notebook) and progress bars while the RunEngine waits for a device
        (``ProgressBarManager``).
    preview
        Show the latest frame as it is written (a
        :class:`~bluesky_timelapse.callbacks.LivePreview`, matplotlib).
    suspenders
        Install the recommended suspenders: low disk space where the data
        directory is (below ``min_free``) and a Tiled backlog of more than
        ``max_backlog`` documents in the sink.
    min_free
        Free space below which acquisition suspends: bytes, ``"1GB"``, ``"10%"``.
    max_backlog
        Documents waiting for Tiled above which acquisition suspends, >= 1.
    log_file
        True: log ``bluesky_timelapse`` and ``bluesky`` to ``data_dir/logs/
        bluesky-timelapse.log`` (10 MB, 5 files kept); a path: log there; False:
        no log file.
    log_level
        The level of those loggers, if they have none of their own.

    Returns
    -------
    Session
        Holds the RunEngine, sink, client and server; :meth:`Session.close` ends it.

    Raises
    ------
    RuntimeError
        If a session is already open with another data directory or Tiled server,
        or another sink journals in ``data_dir/journal`` (another process).
    ~bluesky_timelapse.tiled.TiledUnreachableError, ~bluesky_timelapse.tiled.TiledAuthenticationError
        If ``tiled_uri`` does not answer or refuses the key.
    ValueError
        If ``tiled_uri`` or ``min_free`` is malformed.
    """
    global _current
    directory = DataDirectory.given(data_dir).root
    target = tiled_settings(tiled_uri, api_key)
    with _lock:
        session = _current
        if session is not None:
            if session.data_dir != directory or session._requested_uri != target.uri:
                raise RuntimeError(
                    f"a session is already open (data directory {str(session.data_dir)!r}, "
                    f"Tiled {session.tiled_uri}); call session.close() before configuring "
                    f"another one (data directory {str(directory)!r}, Tiled "
                    f"{target.uri or 'embedded'})"
                )
        else:
            session = _current = _open(
                directory,
                target,
                plots=plots,
                tables=tables,
                progress=progress,
                preview=preview,
                suspenders=suspenders,
                min_free=min_free,
                max_backlog=max_backlog,
                log_file=log_file,
                log_level=log_level,
            )
            use_session_data_dir(directory)
    if user_ns is not None:
        user_ns.update(session.namespace)
    return session


def current_session() -> Session:
    """The open session :func:`configure` made (e.g. in a later startup file).

    Raises
    ------
    RuntimeError
        If there is none.
    """
    session = _current
    if session is None:
        raise RuntimeError("no session is open; call bluesky_timelapse.session.configure() first")
    return session


def _open(
    data_dir: Path,
    target: TiledTarget,
    *,
    plots: bool,
    tables: bool,
    progress: bool,
    preview: bool,
    suspenders: bool,
    min_free: int | str,
    max_backlog: int,
    log_file: bool | Path | str,
    log_level: int | str,
) -> Session:
    from bluesky import RunEngine
    from bluesky.callbacks.best_effort import BestEffortCallback
    from bluesky.utils import ProgressBarManager

    paths = DataDirectory(data_dir)
    make_private_directory(data_dir)  # an existing one keeps the mode its owner chose
    make_private_directory(paths.frames)
    handler = attach_log_file(paths.log_file, log_file, log_level)
    server: LocalTiled | None = None
    sink: TiledSink | None = None
    try:
        server, client_factory, used = choose_tiled(paths, target)
        assert used.uri is not None
        uri = used.uri
        client = client_factory()
        # RunEngine takes any mutable mapping as md (its hints say dict).
        metadata: Any = PersistentMetadata(paths.metadata)
        engine: Any = RunEngine(metadata, call_returns_result=True)
        install_commands(engine)  # first: its hook must see each start before the others
        sink = TiledSink(paths.journal, used)
        bec = BestEffortCallback()
        if not plots:
            bec.disable_plots()
        if not tables:
            for quiet in ("disable_table", "disable_heading", "disable_baseline"):
                getattr(bec, quiet)()
        tokens = [engine.subscribe(sink), engine.subscribe(bec)]
        timelapse_progress = TimelapseProgress() if progress else None
        if timelapse_progress is not None:
            engine.waiting_hook = ProgressBarManager()
            tokens.append(engine.subscribe(timelapse_progress))
        live_preview = LivePreview() if preview else None
        if live_preview is not None:
            tokens.append(engine.subscribe(live_preview))
        installed = []
        if suspenders:
            installed = [
                SuspendLowDiskSpace(data_dir, min_free=min_free),
                SuspendWhenTiledBacklog(sink, max_documents=max_backlog),
            ]
            for suspender in installed:
                engine.install_suspender(suspender)
        session = Session(
            RE=engine,
            sink=sink,
            bec=bec,
            tiled=client,
            tiled_uri=uri,
            server=server,
            data_dir=data_dir,
            suspenders=installed,
            progress=timelapse_progress,
            preview=live_preview,
            log_file=Path(handler.baseFilename) if handler is not None else None,
            _requested_uri=target.uri,
            _tokens=tokens,
            _log_handler=handler,
        )
    except BaseException:
        if sink is not None:
            sink.close(timeout=0)
        if server is not None:
            server.stop()
        if handler is not None:
            detach_log_file(handler)
        raise
    session.namespace, session.broken_plugins = _namespace(session)
    # Runs before the server's own atexit stop (registered earlier): the sink
    # forwards what it holds while the server still answers.
    atexit.register(session.close)
    logger.info(
        "session configured: data directory %s, Tiled %s%s, scan_id %s",
        data_dir,
        uri,
        " (embedded, started here)" if server is not None else "",
        engine.md.get("scan_id", 0),
    )
    return session


def _namespace(session: Session) -> tuple[dict[str, Any], list[BrokenPlugin]]:
    import bluesky.plan_stubs as bps
    import bluesky.plans as bp
    import bluesky.preprocessors as bpp
    from bluesky.plans import count

    from ..schedules import at, daily, every

    namespace: dict[str, Any] = {}
    broken: list[BrokenPlugin] = []
    for group in (DEVICES, PLANS, CALLBACKS):
        loaded, failed = load_plugins(group)
        namespace.update(loaded)
        broken.extend(failed)
    namespace.update(
        RE=session.RE,
        sink=session.sink,
        bec=session.bec,
        tiled=session.tiled,
        session=session,
        bp=bp,
        bps=bps,
        bpp=bpp,
        count=count,
        every=every,
        at=at,
        daily=daily,
    )
    return namespace, broken
