"""Crash-safe file primitives: atomic writes, directory fsyncs, private directories, JSON objects.

The bottom layer of the package: the timelapse store, the metadata mapping, the
Tiled sink, the embedded server, the writers and the cameras all write through it.

A file written with :func:`atomic_write` holds either its old or its new content after
a crash or a power cut, never a mixture: the new bytes go to a temporary file in the
same directory, which is flushed and fsynced, then renamed over the target, and the
directory itself is fsynced so the rename is durable too.

A damaged file is never overwritten or deleted: :func:`move_aside` renames it to
``<name>.corrupt-<UTC timestamp>`` beside itself, never clobbering an earlier one.
:func:`read_json_object` says in one line why a file is not a JSON object.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FILE_MODE = 0o600
"""Mode of every private file the package writes: readable by its owner only."""

DIRECTORY_MODE = 0o700
"""Mode of every private directory the package creates."""

TEMPORARY_SUFFIX = ".tmp"
"""Temporary files are named ``.<target name>.<random hex>.tmp``: hidden, never a target."""


def atomic_write(
    path: Path | str,
    data: bytes,
    *,
    mode: int = FILE_MODE,
    exclusive: bool = False,
    durable: bool = True,
) -> None:
    """Replace the content of ``path`` with ``data`` so that a crash leaves one or the other.

    Parameters
    ----------
    path
        The file to create or replace. Its directory must exist.
    data
        The complete new content.
    mode
        Permission bits of the new file, applied whatever the umask (default 0600).
    exclusive
        If True, only create: raise ``FileExistsError`` if ``path`` exists, even when
        another process creates it at the same moment.
    durable
        If True (default), fsync the file and its directory, so the new content
        survives a power cut. False still replaces atomically (a crash of the
        process leaves one content or the other), without waiting for the disk.

    Raises
    ------
    FileExistsError
        If ``exclusive`` and ``path`` exists.
    OSError
        If any step fails. The target then still has its old content (or is still
        absent) and the temporary file is removed.
    """
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}{TEMPORARY_SUFFIX}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        try:
            if hasattr(os, "fchmod"):  # exact mode whatever the umask; POSIX only
                os.fchmod(fd, mode)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        if exclusive:
            if not _rename_no_replace(temporary, path):
                raise FileExistsError(f"{str(path)!r} already exists; it is never replaced")
        else:
            os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    if durable:
        fsync_directory(path.parent)


def check_writable(path: Path | str) -> None:
    """Refuse ``path`` unless its directory exists and this process may create files there.

    Raises
    ------
    NotADirectoryError, FileNotFoundError, PermissionError
        Naming ``path`` and what is wrong with its directory.
    """
    directory = Path(path).absolute().parent
    if directory.is_file() or any(parent.is_file() for parent in directory.parents):
        raise NotADirectoryError(f"cannot write {str(path)!r}: {directory} is not a directory")
    if not directory.is_dir():
        raise FileNotFoundError(
            f"cannot write {str(path)!r}: its directory {directory} does not exist"
        )
    if not os.access(directory, os.W_OK | os.X_OK):
        raise PermissionError(f"cannot write {str(path)!r}: {directory} is not writable")


@contextmanager
def written_then_renamed(path: Path | str, *, overwrite: bool = False) -> Iterator[Path]:
    """``with written_then_renamed(path) as partial:`` write ``partial``; it becomes ``path``.

    For files too large to hold in memory (a video) and directory stores (Zarr): the
    block writes the temporary file or directory ``.<name>.<random hex>.tmp<suffix>``
    beside ``path`` (the suffix kept, for
    libraries that pick a format from it). When the block ends normally the file is
    fsynced and renamed to ``path``, and the directory fsynced; when it raises, the
    temporary file is removed and ``path`` is as it was. Mode: as the umask gives.

    Raises
    ------
    FileExistsError
        If ``path`` exists and not ``overwrite``, before the block runs, and again
        when renaming if another process created it meanwhile.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{str(path)!r} exists; choose another name or allow overwriting")
    check_writable(path)
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}{TEMPORARY_SUFFIX}{path.suffix}")
    try:
        yield partial
        fsync_file(partial)
        if overwrite:
            os.replace(partial, path)
        elif not _rename_no_replace(partial, path):
            raise FileExistsError(f"{str(path)!r} appeared meanwhile; it is never replaced")
    finally:
        if partial.is_dir():  # a directory store (Zarr)
            shutil.rmtree(partial)
        else:
            partial.unlink(missing_ok=True)
    fsync_directory(path.parent)


def fsync_directory(directory: Path | str) -> None:
    """Flush a directory's entries (creations, renames) to stable storage.

    Platforms and filesystems that cannot fsync a directory are silently accepted.
    """
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError as err:
        if err.errno in (errno.EACCES, errno.EISDIR):  # Windows cannot open directories
            return
        raise
    try:
        os.fsync(fd)
    except OSError as err:
        if err.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


def fsync_file(path: Path | str) -> None:
    """Flush a file's content to stable storage, by its path."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_private_directory(directory: Path | str) -> Path:
    """Create ``directory`` (and its parents) if missing; a new one gets mode 0700.

    The mode is set at creation and again after it, whatever the umask. Missing
    parents are made as :meth:`pathlib.Path.mkdir` makes them (umask). An existing
    directory keeps its mode: whoever made it chose who may read it.
    """
    directory = Path(directory)
    if not directory.is_dir():
        directory.parent.mkdir(parents=True, exist_ok=True)
        try:
            directory.mkdir(mode=DIRECTORY_MODE)  # never open to others, not even briefly
        except FileExistsError:
            if not directory.is_dir():
                raise
            return directory  # another process made it at the same moment
        directory.chmod(DIRECTORY_MODE)  # exact mode whatever the umask
        fsync_directory(directory.parent)
    return directory


def utc_timestamp(when: datetime | None = None) -> str:
    """``YYYYmmddTHHMMSSZ`` of ``when`` (default now), for names of files set aside."""
    return (when or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def move_aside(path: Path | str, *, tag: str = "corrupt") -> Path:
    """Rename ``path`` to ``<name>.<tag>-<UTC timestamp>`` in its directory and return that.

    A name already taken gets ``-1``, ``-2``... appended: an earlier file set aside is
    never replaced. The rename is fsynced.

    Parameters
    ----------
    path
        The file to set aside.
    tag
        Why it is set aside; a word of letters, digits or ``-``.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    """
    path = Path(path)
    base = f"{path.name}.{tag}-{utc_timestamp()}"
    for attempt in range(10_000):
        aside = path.with_name(base if attempt == 0 else f"{base}-{attempt}")
        if _rename_no_replace(path, aside):
            fsync_directory(path.parent)
            return aside
    raise FileExistsError(f"cannot set {str(path)!r} aside: 10000 names {base}-N are taken")


class UnreadableFile(ValueError):
    """File content that cannot be used; the message says why in a few words."""


def read_json_object(data: bytes | str) -> dict[str, Any]:
    """``data`` decoded as one JSON object, strictly: no NaN or Infinity.

    Raises
    ------
    UnreadableFile
        If ``data`` is empty, not JSON, or JSON but not an object.
    """
    if not data.strip():
        raise UnreadableFile("the file is empty")
    try:
        value = json.loads(data, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as err:
        raise UnreadableFile(f"not JSON: {err}") from None
    if not isinstance(value, dict):
        raise UnreadableFile(f"not a JSON object but a {type(value).__name__}")
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _rename_no_replace(source: Path, target: Path) -> bool:
    """Rename unless ``target`` exists; False if it does. Atomic where hard links exist."""
    try:
        os.link(source, target)
    except FileExistsError:
        return False
    except OSError:
        # No hard links here (FAT, some network filesystems): check, then rename.
        if target.exists() or target.is_symlink():
            return False
        os.rename(source, target)
        return True
    source.unlink()
    return True
