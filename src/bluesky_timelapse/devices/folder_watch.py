"""Files that another program drops into a folder: their names, and when they are complete.

- :class:`FilePattern` reads a path template such as
  ``/data/{camera_name}/%Y/%m/%d/{timestamp:%Y%m%d%H%M%S}_{exposure_ms:d}.jpg``:
  which paths match, which fields their names carry, where to look at a given time.
- :class:`FolderWatch` reports every new matching file once, when it is complete:
  on a closed-after-write event from :mod:`watchdog` (inotify), or when its size
  and modification time have not changed for a settle time (files seen without a
  close event, and every file in polling mode).
- :class:`FileFeed` hands those files to the triggers that wait for them, in the
  ``"next"`` or ``"latest"`` mode of the folder cameras.
"""

from __future__ import annotations

import glob
import logging
import math
import os
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from watchdog.events import (
    FileClosedEvent,
    FileCreatedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

logger = logging.getLogger(__name__)

FieldKind = Literal["string", "integer", "number", "time"]
ImageFormat = Literal["tiff", "jpeg", "png"]
Mode = Literal["next", "latest"]
MODES: tuple[Mode, ...] = ("next", "latest")

STRFTIME_CODES: dict[str, str] = {
    "Y": r"\d{4}",
    "y": r"\d{2}",
    "m": r"\d{2}",
    "d": r"\d{2}",
    "j": r"\d{3}",
    "H": r"\d{2}",
    "M": r"\d{2}",
    "S": r"\d{2}",
    "f": r"\d{6}",
}
"""The strftime codes a template may use (plus ``%%``), with what they match: numbers only,
so that a name reads the same in every locale."""

FIELD_SPECS: dict[str, FieldKind] = {"": "string", "d": "integer", "f": "number"}
"""Field format specs besides a strftime time (``{name:%Y%m%d}``)."""

EXTENSIONS: dict[str, ImageFormat] = {
    ".tif": "tiff",
    ".tiff": "tiff",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".png": "png",
}
"""File name endings a template may have, in lower case, and the image format each means.

A template's ending is looked up in lower case: ``.JPG`` is JPEG too."""

_FIELD_PATTERNS: dict[FieldKind, str] = {
    "string": r"[^/{}%]+?",  # braces and % cannot go through a Tiled file name template
    "integer": r"[+-]?\d+",
    "number": r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?",
}
_TOKEN = re.compile(r"\{\{|\}\}|\{(?P<field>[^{}]*)\}|%(?P<code>.?)|[{}]")
_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@dataclass(frozen=True)
class _Field:
    name: str
    kind: FieldKind
    time_format: str = ""


@dataclass(frozen=True)
class FilePattern:
    """A path template of files written by another program, compiled and checked.

    The template is an absolute path. Its parts:

    - strftime codes ``%Y %y %m %d %j %H %M %S %f`` (and ``%%`` for a ``%``);
    - named fields ``{name}`` (text), ``{name:d}`` (integer), ``{name:f}`` (number)
      and ``{name:%Y%m%d%H%M%S}`` (a local time made of the codes above, each at
      most once, read as a Unix timestamp); a field named twice must read the same
      both times;
    - ``{{`` and ``}}`` for literal braces in directory names;
    - a file name ending in ``.tif``, ``.tiff``, ``.jpg``, ``.jpeg`` or ``.png``, in
      any case (``.JPG``, ``.Tiff``); files match it only if they end the same way.

    Parameters
    ----------
    template
        The path template, e.g. ``/data/{camera}/%Y/%m/%d/{t:%H%M%S}_{exposure_ms:d}.jpg``.

    Raises
    ------
    ValueError
        For a relative template, an unsupported strftime code or field spec (or a
        code twice in a time field), a bad field name, an unbalanced brace, a
        placeholder in the first directory, or an unsupported file name ending; the
        message names the part and what is allowed.
    """

    template: str

    def __post_init__(self) -> None:
        if not self.template.startswith("/"):
            raise ValueError(
                f"template {self.template!r} is not an absolute path; allowed: a path "
                "starting with '/'"
            )
        components = self.template.split("/")[1:]
        regex: list[str] = []
        fields: dict[str, _Field] = {}
        root: list[str] = []
        for position, component in enumerate(components):
            if not component:
                raise ValueError(f"template {self.template!r} has an empty path component")
            component_regex, is_literal = self._compile(component, fields)
            if is_literal and len(root) == position and position < len(components) - 1:
                root.append(component.replace("%%", "%").replace("{{", "{").replace("}}", "}"))
            regex.append(component_regex)
        if not root:
            raise ValueError(
                f"template {self.template!r} has no fixed directory to watch; allowed: "
                "placeholders below a fixed first directory, e.g. '/data/%Y/...'"
            )
        file_name = components[-1]
        extension = os.path.splitext(file_name)[1]
        if extension.lower() not in EXTENSIONS:
            raise ValueError(
                f"template {self.template!r} ends in {extension or 'no extension'!r}; "
                f"allowed: a file name ending in {', '.join(EXTENSIONS)}, in any case"
            )
        if re.search(r"%%|\{\{|\}\}", file_name):
            raise ValueError(
                f"template {self.template!r} has '%' or a brace in its file name; Tiled "
                "reads file names through a format template, which cannot hold them"
            )
        object.__setattr__(self, "_regex", re.compile("/" + "/".join(regex)))
        object.__setattr__(self, "_fields", fields)
        object.__setattr__(self, "_root", Path("/", *root))
        object.__setattr__(self, "_format", EXTENSIONS[extension.lower()])

    @property
    def root(self) -> Path:
        """The fixed directory at the head of the template: it is watched, and must exist."""
        root: Path = self.__dict__["_root"]
        return root

    @property
    def image_format(self) -> ImageFormat:
        """``"tiff"``, ``"jpeg"`` or ``"png"``, from the file name's ending."""
        image_format: ImageFormat = self.__dict__["_format"]
        return image_format

    @property
    def fields(self) -> dict[str, FieldKind]:
        """Field name -> ``"string"``, ``"integer"``, ``"number"`` or ``"time"``."""
        return {name: field.kind for name, field in self.__dict__["_fields"].items()}

    def match(self, path: Path | str) -> dict[str, str | int | float] | None:
        """The fields of ``path``'s name, typed; None if it does not match the template.

        A time field is a Unix timestamp of the local time it spells. A name whose
        fields cannot be read (digits that are no date, an integer of more digits
        than Python converts) does not match.
        """
        found = self.__dict__["_regex"].fullmatch(Path(path).as_posix())
        if found is None:
            return None
        values: dict[str, str | int | float] = {}
        for name, field in self.__dict__["_fields"].items():
            text = found.group(name)
            if field.kind == "integer":
                try:
                    values[name] = int(text)
                except ValueError:  # more digits than sys.get_int_max_str_digits()
                    return None
            elif field.kind == "number":
                values[name] = float(text)
            elif field.kind == "time":
                try:
                    values[name] = datetime.strptime(text, field.time_format).timestamp()
                except ValueError:  # digits that are no date, e.g. month 13
                    return None
            else:
                values[name] = text
        return values

    def directory_glob(self, when: datetime) -> str:
        """A glob pattern of the directories files written at ``when`` go into.

        strftime codes are filled for ``when``; fields become ``*``.
        """
        parts = []
        for component in self.template.split("/")[1:-1]:
            part, position = [], 0
            for token in _TOKEN.finditer(component):
                part.append(glob.escape(component[position : token.start()]))
                position = token.end()
                if token.group("field") is not None:
                    part.append("*")
                elif token.group("code") is not None:
                    part.append(glob.escape(when.strftime(token.group())))
                else:
                    part.append(glob.escape(token.group()[0]))
            part.append(glob.escape(component[position:]))
            parts.append("".join(part))
        return "/" + "/".join(parts)

    def _compile(self, component: str, fields: dict[str, _Field]) -> tuple[str, bool]:
        """The regex of one path component, and whether it is a plain name."""
        regex, position, is_literal = [], 0, True
        for token in _TOKEN.finditer(component):
            regex.append(re.escape(component[position : token.start()]))
            position = token.end()
            text = token.group()
            if text in ("{{", "}}"):
                regex.append(re.escape(text[0]))
            elif token.group("field") is not None:
                regex.append(self._field_regex(token.group("field"), fields))
                is_literal = False
            elif token.group("code") is not None:
                regex.append(self._code_regex(token.group("code")))
                is_literal = is_literal and text == "%%"
            else:
                raise ValueError(
                    f"template {self.template!r} has an unbalanced {text!r} in {component!r}; "
                    "allowed: {name}, {name:spec}, or '{{' and '}}' for literal braces"
                )
        regex.append(re.escape(component[position:]))
        return "".join(regex), is_literal

    def _code_regex(self, code: str) -> str:
        if code == "%":
            return "%"
        if code not in STRFTIME_CODES:
            raise ValueError(
                f"strftime code '%{code}' in template {self.template!r} is not supported; "
                f"allowed: {', '.join('%' + c for c in STRFTIME_CODES)} and %%"
            )
        return STRFTIME_CODES[code]

    def _field_regex(self, text: str, fields: dict[str, _Field]) -> str:
        name, _, spec = text.partition(":")
        if not _FIELD_NAME.match(name):
            raise ValueError(
                f"field name {name!r} in template {self.template!r} is invalid; allowed: "
                "a Python identifier"
            )
        if spec.startswith("%"):
            codes = [code for code in re.findall(r"%(.?)", spec) if code != "%"]
            twice = sorted({code for code in codes if codes.count(code) > 1})
            if twice:
                raise ValueError(
                    f"field spec {spec!r} of {{{name}}} in template {self.template!r} has "
                    f"{', '.join('%' + code for code in twice)} more than once; allowed: "
                    "each strftime code once in a time field"
                )
            field = _Field(name, "time", spec)
            pattern = re.sub(
                r"%(.?)", lambda code: self._code_regex(code.group(1)), re.escape(spec)
            )
        elif spec in FIELD_SPECS:
            field = _Field(name, FIELD_SPECS[spec])
            pattern = _FIELD_PATTERNS[field.kind]
        else:
            raise ValueError(
                f"field spec {spec!r} of {{{name}}} in template {self.template!r} is not "
                "supported; allowed: none (text), 'd' (integer), 'f' (number) or strftime "
                "codes (a time)"
            )
        if name in fields:
            if fields[name] != field:
                raise ValueError(
                    f"field {name!r} appears twice in template {self.template!r} with "
                    "different specs; a repeated field must have the same spec"
                )
            return f"(?P={name})"
        fields[name] = field
        return f"(?P<{name}>{pattern})"


Completed = Callable[[Path], None]


class FolderWatch:
    """Report each new file matching a :class:`FilePattern` once, when it is complete.

    A file is complete when it is closed after a write (inotify's
    ``IN_CLOSE_WRITE``), moved into place, or, failing such an event, when it is
    not empty and its size and modification time have not changed for
    ``settle_time`` seconds. Files present when the watch starts are not new; a
    name that does not match the pattern is logged once (INFO) and ignored.

    Parameters
    ----------
    pattern
        Which files to report.
    on_complete
        Called with each complete file's path, once per path, from a watch thread.
    use_polling
        Scan the directories of the current (and the previous) date every
        ``poll_interval`` seconds instead of asking the kernel for events: for
        network filesystems, where inotify sees only local writes.
    poll_interval
        Seconds between scans in polling mode, > 0.
    settle_time
        Seconds a file's size must stay the same before it counts without a close
        event, > 0.
    clock
        Returns the current local time; decides which date directories a scan visits.
    """

    def __init__(
        self,
        pattern: FilePattern,
        on_complete: Completed,
        *,
        use_polling: bool = False,
        poll_interval: float = 1.0,
        settle_time: float = 0.5,
        clock: Callable[[], datetime] = datetime.now,
    ) -> None:
        self.pattern = pattern
        self.on_complete = on_complete
        self.use_polling = use_polling
        self.poll_interval = poll_interval
        self.settle_time = settle_time
        self.clock = clock
        self._condition = threading.Condition()
        self._pending: dict[Path, tuple[int, int, float]] = {}
        self._reported: set[Path] = set()
        self._ignored: set[Path] = set()
        self._baseline: dict[Path, tuple[int, int]] = {}
        self._scanned_at: datetime | None = None
        self._running = False
        self._thread: threading.Thread | None = None
        self._observer: BaseObserver | None = None

    @property
    def running(self) -> bool:
        """Whether the watch is started."""
        return self._running

    def no_file_error(self, name: str, timeout: float) -> TimeoutError:
        """The error of a trigger of camera ``name`` that got no file in ``timeout`` seconds.

        It names the template, the watched directory and how it is watched.
        """
        how = f"polling every {self.poll_interval:g} s" if self.use_polling else "inotify"
        return TimeoutError(
            f"{name}: no new file matching {self.pattern.template!r} was complete in "
            f"{str(self.pattern.root)!r} within {timeout:g} s ({how})"
        )

    def start(self) -> None:
        """Start watching.

        Raises
        ------
        FileNotFoundError
            If the pattern's fixed directory does not exist.
        """
        root = self.pattern.root
        if not root.is_dir():
            raise FileNotFoundError(
                f"the directory {str(root)!r} of template {self.pattern.template!r} does not "
                "exist; create it, or mount the share that holds it"
            )
        with self._condition:
            self._pending.clear()
            self._reported.clear()
            self._baseline.clear()
            self._running = True
        if self.use_polling:
            self._scanned_at = self.clock()
            self._baseline = {
                path: identity for path, identity in self._scan(self._scanned_at).items()
            }
        else:
            observer = Observer()
            observer.schedule(_Events(self), str(root), recursive=True)
            observer.start()
            self._observer = observer
        self._thread = threading.Thread(
            target=self._settle_loop, name=f"folder-watch {root}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop watching; files still settling are dropped. Safe to call twice."""
        with self._condition:
            self._running = False
            self._condition.notify_all()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join()
            self._observer = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def consider(self, path: Path, *, complete: bool) -> None:
        """Take note of a file event: ``complete`` for a close-after-write or a move."""
        with self._condition:
            if not self._running or path in self._reported or not self._matches(path):
                return
            identity = _identity(path)
            if identity is None:
                self._pending.pop(path, None)
                return
            if not (complete and identity[0] > 0):
                self._note(path, identity, time.monotonic())
                return
            self._pending.pop(path, None)
            self._reported.add(path)
        self.on_complete(path)

    def _matches(self, path: Path) -> bool:
        if self.pattern.match(path) is not None:
            return True
        if path not in self._ignored:
            self._ignored.add(path)
            logger.info(
                "ignoring %s: its name does not match the template %r",
                path,
                self.pattern.template,
            )
        return False

    def _note(self, path: Path, identity: tuple[int, int], now: float) -> None:
        """Record a file's size and time; a change restarts its settle time."""
        previous = self._pending.get(path)
        if previous is None or previous[:2] != identity:
            self._pending[path] = (*identity, now)
            self._condition.notify_all()

    def _settle_loop(self) -> None:
        next_poll = time.monotonic() + self.poll_interval
        while True:
            with self._condition:
                if not self._running:
                    return
                wake = [since + self.settle_time for _, _, since in self._pending.values()]
                if self.use_polling:
                    wake.append(next_poll)
                timeout = max(min(wake) - time.monotonic(), 0.0) if wake else None
                if timeout != 0.0:
                    self._condition.wait(timeout)
                if not self._running:
                    return
            if self.use_polling and time.monotonic() >= next_poll:
                next_poll = time.monotonic() + self.poll_interval
                self._poll()
            for path in self._settled():
                self.on_complete(path)

    def _poll(self) -> None:
        now = self.clock()
        previous, self._scanned_at = self._scanned_at or now, now
        found = self._scan(previous, now)
        with self._condition:
            for path, identity in found.items():
                if path in self._reported or self._baseline.get(path) == identity:
                    continue
                self._baseline.pop(path, None)
                if self._matches(path):
                    self._note(path, identity, time.monotonic())

    def _scan(self, *moments: datetime) -> dict[Path, tuple[int, int]]:
        """Every file in the directories of ``moments``, with its size and time."""
        directories = {d for when in moments for d in glob.glob(self.pattern.directory_glob(when))}
        found: dict[Path, tuple[int, int]] = {}
        for directory in sorted(directories):
            try:
                entries = list(os.scandir(directory))
            except OSError:  # not a directory, or gone since the glob
                continue
            for entry in entries:
                try:
                    if entry.is_file():
                        stat = entry.stat()
                        found[Path(entry.path)] = (stat.st_size, stat.st_mtime_ns)
                except OSError:
                    continue
        return found

    def _settled(self) -> list[Path]:
        """The pending files whose size has not changed for the settle time, in that order."""
        now = time.monotonic()
        settled = []
        with self._condition:
            for path, (size, mtime, since) in list(self._pending.items()):
                identity = _identity(path)
                if identity is None:
                    del self._pending[path]
                elif identity != (size, mtime):
                    self._pending[path] = (*identity, now)
                elif now - since < self.settle_time:
                    continue
                elif size == 0:  # created, nothing written yet: look again later
                    self._pending[path] = (size, mtime, now)
                else:
                    del self._pending[path]
                    self._reported.add(path)
                    settled.append((since, path))
        return [path for _, path in sorted(settled)]


class _Events(FileSystemEventHandler):
    """Hands watchdog's file events to a :class:`FolderWatch`."""

    def __init__(self, watch: FolderWatch) -> None:
        self.watch = watch

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory:
            return
        if isinstance(event, FileMovedEvent):
            self.watch.consider(Path(os.fsdecode(event.dest_path)), complete=True)
        elif isinstance(event, FileClosedEvent):
            self.watch.consider(Path(os.fsdecode(event.src_path)), complete=True)
        elif isinstance(event, FileCreatedEvent | FileModifiedEvent):
            self.watch.consider(Path(os.fsdecode(event.src_path)), complete=False)


def _identity(path: Path) -> tuple[int, int] | None:
    """Size and modification time (ns) of ``path``, or None if it is gone."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_size, stat.st_mtime_ns


class FileFeed:
    """Hands each complete file to the trigger that waits for it.

    Give :meth:`arrived` to a :class:`FolderWatch` as its ``on_complete``; each
    trigger calls :meth:`request` for a future of its file. Thread-safe.

    Parameters
    ----------
    mode
        ``"next"``: a request gets the first file that arrives after it was made.
        ``"latest"``: the newest file that arrived since :meth:`clear` and was not
        yet taken, at once; the first one to come if there is none.

    Raises
    ------
    ValueError
        For another mode.
    """

    def __init__(self, mode: Mode) -> None:
        check_mode(mode)
        self.mode = mode
        self._lock = threading.Lock()
        self._waiting: deque[Future[Path]] = deque()
        self._latest: Path | None = None

    @property
    def latest(self) -> Path | None:
        """The file a ``"latest"`` request would take at once; None if none."""
        return self._latest

    def clear(self) -> None:
        """Forget the files that arrived so far (at stage)."""
        with self._lock:
            self._latest = None

    def request(self) -> Future[Path]:
        """A future of the next file, in the feed's mode (already done if there is one)."""
        future: Future[Path] = Future()
        with self._lock:
            latest, self._latest = self._latest, None
            if latest is None:
                self._waiting.append(future)
                return future
        future.set_result(latest)
        return future

    def withdraw(self, future: Future[Path]) -> bool:
        """Cancel a request that is still waiting; False if it got its file (or failed)."""
        with self._lock:
            if future not in self._waiting:
                return False
            self._waiting.remove(future)
        return future.cancel()

    def wait(self, timeout: float) -> Path | None:
        """Block until the next file (in the feed's mode); None after ``timeout`` seconds.

        Raises
        ------
        Exception
            What :meth:`fail_waiting` gave the request.
        """
        future = self.request()
        try:
            return future.result(timeout)
        except TimeoutError:
            if self.withdraw(future):
                return None
            return future.result()  # it came in the meantime

    def arrived(self, path: Path) -> None:
        """A complete new file: give it to the oldest request, or keep it as the latest."""
        with self._lock:
            if not self._waiting:
                if self.mode == "latest":
                    self._latest = path
                return
            future = self._waiting.popleft()
        future.set_result(path)

    def fail_waiting(self, error: BaseException) -> None:
        """Fail every request still waiting with ``error`` (at unstage)."""
        with self._lock:
            waiting, self._waiting = list(self._waiting), deque()
        for future in waiting:
            future.set_exception(error)


def check_mode(mode: object) -> None:
    """Refuse a folder camera mode other than ``"next"`` and ``"latest"``.

    Raises
    ------
    ValueError
        Naming the mode and the allowed ones.
    """
    if mode not in MODES:
        raise ValueError(f"mode {mode!r} is not supported; allowed: {', '.join(MODES)}")


def check_seconds(**settings: object) -> None:
    """Refuse any of ``settings`` (name -> value) that is not a finite number of seconds > 0.

    Raises
    ------
    ValueError
        Naming the first setting refused and its value.
    """
    for label, value in settings.items():
        if not (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and math.isfinite(value)
            and value > 0
        ):
            raise ValueError(f"{label} {value!r} is invalid; allowed: a number of seconds > 0")
