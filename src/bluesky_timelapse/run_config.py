"""Unattended timelapses from a YAML file: what ``bluesky-timelapse run`` and ``resume`` use.

A config file names the cameras (by their ``bluesky_timelapse.devices`` entry point
and keyword arguments), the schedule (a spec as
:func:`~bluesky_timelapse.schedules.schedule_from_spec` takes it), the timelapse
options, the data directory, the Tiled server and the suspenders::

    cameras:
      - class: SimCamera
        name: garden
        writer: hdf5
        shape: [240, 320]
    schedule: {kind: every, interval: 10m, count: 144}
    timelapse: {grace: 60, missed: skip, md: {site: greenhouse}}
    storage: {data_dir: /srv/timelapse}
    tiled: {uri: null}
    suspenders: {min_free: 5GB}

:func:`load_config` reads and checks everything (the cameras are built, nothing is
written) and raises :class:`ConfigError`, whose message points at the file, line
and key of each problem. :func:`run_from_config` then runs the timelapse in a
:func:`~bluesky_timelapse.session.configure` session.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import signal
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from . import plugins
from .data_dir import DataDirectory
from .persistence import validate_timelapse_id
from .plans import TimelapseOptions
from .schedules import schedule_from_spec
from .suspenders import SpaceThreshold

__all__ = [
    "CONFIG_MD_KEY",
    "CameraConfig",
    "ConfigError",
    "LoadedConfig",
    "Outcome",
    "RunConfig",
    "load_config",
    "run_from_config",
]

CONFIG_MD_KEY = "timelapse_config"
"""The metadata key under which ``run`` records the config file (for ``resume``)."""

Loc = tuple[int | str, ...]


class ConfigError(ValueError):
    """A config file that cannot be used; ``str()`` lists every problem with its line."""

    def __init__(self, source: str, problems: Sequence[tuple[int | None, str]]) -> None:
        self.source = source
        self.problems = list(problems)
        lines = [
            f"{source}:{line}: {message}" if line is not None else f"{source}: {message}"
            for line, message in self.problems
        ]
        super().__init__("\n".join(lines))


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CameraConfig(BaseModel):
    """One camera: its ``class`` (a device entry point), ``name`` and keyword arguments.

    ``root`` defaults to ``DATA_DIR/frames`` and ``write_path_template`` to
    ``%Y/%m/%d`` for the classes that take them, except for a class with a
    ``copy_to`` (a FolderCamera) that is not given one: it reads its files where
    they lie and writes nothing.
    """

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    class_: str = Field(alias="class")
    name: str = Field(min_length=1)

    @field_validator("class_")
    @classmethod
    def _known(cls, value: str) -> str:
        names = [plugin.name for plugin in plugins.available(plugins.DEVICES)]
        if value not in names:
            raise ValueError(
                f"unknown camera class {value!r}; allowed: {', '.join(names) or 'none installed'}"
            )
        return value

    @property
    def kwargs(self) -> dict[str, Any]:
        """The keyword arguments for the class, ``name`` included."""
        return {"name": self.name, **(self.model_extra or {})}


class TimelapseConfig(TimelapseOptions):
    """The options of :func:`~bluesky_timelapse.plans.timelapse`, an id and metadata."""

    timelapse_id: str | None = None
    md: dict[str, Any] = Field(default_factory=dict)

    @field_validator("timelapse_id")
    @classmethod
    def _safe_id(cls, value: str | None) -> str | None:
        return None if value is None else validate_timelapse_id(value)


class StorageConfig(_Section):
    """Where frames, the journal, the Tiled catalog and the store live."""

    data_dir: Path | None = None
    """Default ``$BLUESKY_TIMELAPSE_DIR`` or the user data directory; relative paths
    are relative to the config file."""


class TiledConfig(_Section):
    """The Tiled server: the embedded one unless ``uri`` is given (key: ``$TILED_API_KEY``)."""

    uri: str | None = None


class SuspendersConfig(_Section):
    """The suspenders :func:`~bluesky_timelapse.session.configure` installs."""

    enabled: bool = True
    min_free: int | str = "1GB"
    max_backlog: int = Field(default=10_000, ge=1)

    @field_validator("min_free")
    @classmethod
    def _threshold(cls, value: int | str) -> int | str:
        SpaceThreshold.parse(value, name="min_free")
        return value


class RunConfig(_Section):
    """A whole config file."""

    cameras: list[CameraConfig] = Field(min_length=1)
    schedule: dict[str, Any]
    timelapse: TimelapseConfig = Field(default_factory=TimelapseConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    tiled: TiledConfig = Field(default_factory=TiledConfig)
    suspenders: SuspendersConfig = Field(default_factory=SuspendersConfig)

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: dict[str, Any]) -> dict[str, Any]:
        schedule_from_spec(value)
        return value

    @field_validator("cameras")
    @classmethod
    def _distinct_names(cls, value: list[CameraConfig]) -> list[CameraConfig]:
        names = [camera.name for camera in value]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"camera names must differ; given more than once: {twice}")
        return value


_SECTIONS: dict[str, type[BaseModel]] = {
    "timelapse": TimelapseConfig,
    "storage": StorageConfig,
    "tiled": TiledConfig,
    "suspenders": SuspendersConfig,
}


@dataclass
class LoadedConfig:
    """A checked config file, with its cameras built (not staged: nothing written)."""

    path: Path
    config: RunConfig
    cameras: list[Any]
    data_dir: Path

    @property
    def store(self) -> Path:
        """The timelapse store: ``data_dir / "timelapses"``."""
        return DataDirectory(self.data_dir).timelapses


def load_config(path: Path | str) -> LoadedConfig:
    """Read, check and build a config file; write nothing.

    Raises
    ------
    ConfigError
        For an unreadable file, a YAML syntax error (with its line and column), a
        missing, unknown or invalid key (with its path and line), or a camera its
        class refuses.
    """
    path = Path(path)
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(source, [(None, f"cannot read the config file: {err}")]) from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as err:
        raise ConfigError(source, [_syntax_problem(err)]) from None
    except RecursionError:
        raise ConfigError(source, [(None, "the YAML is nested too deeply")]) from None
    try:
        data = yaml.safe_load(text)
    except (yaml.YAMLError, ValueError, AttributeError) as err:
        # PyYAML raises ValueError/AttributeError for a scalar it cannot convert
        # (2026-02-30, ``!!int abc``): name the line of the first such scalar.
        raise ConfigError(source, [_conversion_problem(root, err)]) from None
    if not isinstance(data, dict):
        line = root.start_mark.line + 1 if root is not None else None
        raise ConfigError(
            source,
            [
                (
                    line,
                    "the file is not a mapping; allowed: keys cameras, schedule, timelapse, "
                    "storage, tiled, suspenders",
                )
            ],
        )
    try:
        config = RunConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(
            source,
            [(_line(root, _refined(error, data)), _message(error)) for error in err.errors()],
        ) from None
    data_dir = config.storage.data_dir
    if data_dir is None:
        data_dir = DataDirectory.default().root
    elif not data_dir.is_absolute():
        data_dir = path.parent / data_dir
    data_dir = data_dir.absolute()
    cameras = []
    for index, camera in enumerate(config.cameras):
        cameras.append(_build_camera(source, root, index, camera, data_dir))
    return LoadedConfig(path=path.absolute(), config=config, cameras=cameras, data_dir=data_dir)


def _syntax_problem(err: yaml.YAMLError) -> tuple[int | None, str]:
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    problem = getattr(err, "problem", None) or str(err)
    context = getattr(err, "context", None)
    detail = f"{problem} ({context})" if context else str(problem)
    if mark is None:
        return None, f"YAML syntax error: {detail}"
    return mark.line + 1, f"column {mark.column + 1}: YAML syntax error: {detail}"


def _conversion_problem(root: yaml.Node | None, err: Exception) -> tuple[int | None, str]:
    """The line of the first scalar PyYAML cannot convert, and why."""
    if isinstance(err, yaml.YAMLError):
        return _syntax_problem(err)
    loader = yaml.SafeLoader("")
    pending = [root] if root is not None else []
    while pending:
        node = pending.pop(0)
        if isinstance(node, yaml.ScalarNode):
            try:
                loader.construct_object(node, deep=True)
            except (yaml.YAMLError, ValueError, AttributeError):
                return node.start_mark.line + 1, (
                    f"cannot read the value {node.value!r} as {node.tag.rsplit(':', 1)[-1]}"
                )
        elif isinstance(node, yaml.MappingNode):
            pending.extend(item for pair in node.value for item in pair)
        elif isinstance(node, yaml.SequenceNode):
            pending.extend(node.value)
    return None, f"cannot read a value: {err}"


def _refined(error: Any, data: dict[str, Any]) -> Loc:
    """An error's location, down to the schedule key its message names, if any."""
    loc: Loc = tuple(error["loc"])
    schedule = data.get("schedule")
    if loc == ("schedule",) and error["type"] == "value_error" and isinstance(schedule, dict):
        key = _mentioned_key(str(error["ctx"]["error"]), schedule)
        if key is not None:
            return (*loc, key)
    return loc


def _key_path(loc: Loc) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _message(error: Any) -> str:
    loc: Loc = tuple(error["loc"])
    kind = error["type"]
    where = _key_path(loc) or "the file"
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        return f"{where}: unknown key; allowed: {', '.join(allowed)}"
    if kind == "missing":
        return f"{where}: required key missing"
    if kind == "value_error":
        return f"{where}: {error['ctx']['error']}"
    value = error.get("input")
    shown = repr(value) if not isinstance(value, dict | list) else type(value).__name__
    return f"{where}: {shown} is invalid: {error['msg']}"


def _allowed_keys(loc: Loc) -> list[str]:
    model: type[BaseModel] = RunConfig if not loc else _SECTIONS.get(str(loc[0]), RunConfig)
    return [field.alias or name for name, field in model.model_fields.items()]


def _node(root: yaml.Node | None, loc: Loc) -> tuple[yaml.Node | None, bool]:
    """The YAML node at ``loc`` (its key node for a mapping entry); whether found exactly."""
    node = root
    found: yaml.Node | None = root
    for part in loc:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == part:
                    found, node = key, value
                    break
            else:
                return found, False
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return found, False
            node = found = node.value[part]
        else:
            return found, False
    return found, True


def _line(root: yaml.Node | None, loc: Sequence[int | str]) -> int | None:
    node, _ = _node(root, tuple(loc))
    return None if node is None else node.start_mark.line + 1


def _build_camera(
    source: str, root: yaml.Node | None, index: int, camera: CameraConfig, data_dir: Path
) -> Any:
    where: Loc = ("cameras", index)
    try:
        factory = plugins.load_plugin(plugins.DEVICES, camera.class_)
    except (ValueError, ImportError) as err:
        raise ConfigError(
            source, [(_line(root, (*where, "class")), f"{_key_path(where)}.class: {err}")]
        ) from None
    kwargs = camera.kwargs
    parameters = inspect.signature(factory).parameters
    # A camera that writes only when it copies (a FolderCamera's copy_to) reads its
    # files where they lie otherwise: then it gets no place to write.
    writes = "copy_to" not in parameters or kwargs.get("copy_to") is not None
    if writes and "root" in parameters and "root" not in kwargs:
        kwargs["root"] = str(DataDirectory(data_dir).frames)
    if writes and "write_path_template" in parameters and "write_path_template" not in kwargs:
        kwargs["write_path_template"] = "%Y/%m/%d"
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    # A class taking **kwargs (ophyd devices do) passes them on; ophyd refuses unknown
    # ones when the object is built, below.
    if not takes_any:
        unknown = [key for key in kwargs if key not in parameters]
        if unknown:
            allowed = sorted(name for name in parameters if name != "self")
            raise ConfigError(
                source,
                [
                    (
                        _line(root, (*where, key)),
                        f"{_key_path((*where, key))}: unknown key for {camera.class_}; "
                        f"allowed: {', '.join(allowed)}",
                    )
                    for key in unknown
                ],
            )
    try:
        return factory(**kwargs)
    except Exception as err:
        key = _mentioned_key(str(err), kwargs)
        loc = (*where, key) if key else where
        raise ConfigError(
            source,
            [(_line(root, loc), f"{_key_path(loc)}: {camera.class_} refused it: {err}")],
        ) from None


def _mentioned_key(message: str, kwargs: dict[str, Any]) -> str | None:
    """The keyword argument an error message names first, if any."""
    positions = {key: message.find(key) for key in kwargs if key in message}
    return min(positions, key=lambda key: positions[key]) if positions else None


@dataclass(frozen=True)
class Outcome:
    """How :func:`run_from_config` ended."""

    timelapse_id: str
    status: str
    """The stored status: ``completed``, ``stopped``, ``failed`` or ``running``."""
    interrupted: bool
    """Whether Ctrl-C or SIGTERM stopped it."""


def new_timelapse_id() -> str:
    """An id as :func:`~bluesky_timelapse.plans.timelapse` generates one."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


def run_from_config(
    loaded: LoadedConfig,
    *,
    resume_id: str | None = None,
    progress: bool = True,
    announce: Callable[[str], None] = print,
) -> Outcome:
    """Run (or, with ``resume_id``, resume) the timelapse a config describes.

    Sets up a :func:`~bluesky_timelapse.session.configure` session in the config's
    data directory (Tiled, journal, suspenders, log file), runs
    :func:`~bluesky_timelapse.plans.timelapse` or
    :func:`~bluesky_timelapse.plans.resume_timelapse` with a progress bar, and
    closes the session. Ctrl-C or SIGTERM pauses the RunEngine at its next
    checkpoint (within a second) and stops the plan: the store marks the
    timelapse ``stopped``, so a resume continues it.
    """
    from bluesky.utils import RunEngineInterrupted
    from tqdm import tqdm

    from .callbacks import TimelapseProgress
    from .persistence import TimelapseStore
    from .plans import resume_timelapse, timelapse
    from .session import configure

    config = loaded.config
    options = config.timelapse
    timelapse_id = resume_id or options.timelapse_id or new_timelapse_id()
    with _sigterm_as_sigint():
        session = configure(
            None,
            data_dir=loaded.data_dir,
            tiled_uri=config.tiled.uri,
            tables=False,
            progress=False,
            suspenders=config.suspenders.enabled,
            min_free=config.suspenders.min_free,
            max_backlog=config.suspenders.max_backlog,
        )
        try:
            store = str(loaded.store)
            if resume_id is None:
                md = {**options.md, CONFIG_MD_KEY: str(loaded.path)}
                plan = timelapse(
                    loaded.cameras,
                    config.schedule,
                    timelapse_id=timelapse_id,
                    store=store,
                    md=md,
                    **options.model_dump(exclude={"timelapse_id", "md"}),
                )
            else:
                plan = resume_timelapse(resume_id, loaded.cameras, store=store)
            announce(timelapse_id)
            interrupted = False
            display = TimelapseProgress(bar=partial(tqdm, disable=not progress))
            token = session.RE.subscribe(display)
            try:
                session.RE(plan)
            except RunEngineInterrupted:
                interrupted = True
                session.RE.stop()
            finally:
                session.RE.unsubscribe(token)
                display.close()
            status = TimelapseStore(store).load(timelapse_id, settled=False).status
        finally:
            session.close(timeout=60)
    return Outcome(timelapse_id, status, interrupted)


@contextlib.contextmanager
def _sigterm_as_sigint() -> Iterator[None]:
    """Treat SIGTERM as Ctrl-C: the RunEngine pauses at its next checkpoint."""

    def forward(signum: int, frame: object) -> None:
        os.kill(os.getpid(), signal.SIGINT)

    previous = signal.signal(signal.SIGTERM, forward)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def unfinished(status: str) -> bool:
    """Whether a timelapse of this status can be resumed to do more."""
    return status in ("running", "stopped")
