"""Where frames go: ophyd FileStoreBase path templates, checked against ``root``.

The rules are ophyd's (``ophyd.areadetector.filestore_mixins.FileStoreBase``):
templates go through :meth:`datetime.strftime`; a relative template is relative to
``root``; documents record ``root`` and the path below it, so a whole tree can be
moved by changing ``root`` alone; ``read_path_template`` is given only when readers
see the files at another mount point than the writer. Unlike a silent write
elsewhere, a path that leaves ``root`` is a :class:`ValueError`.
"""

from __future__ import annotations

import ntpath
import os
import posixpath
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath
from typing import Literal

PathSemantics = Literal["posix", "windows"]
PATH_SEMANTICS: tuple[PathSemantics, ...] = ("posix", "windows")
NATIVE_PATH_SEMANTICS: PathSemantics = "windows" if os.name == "nt" else "posix"


@dataclass(frozen=True)
class ResolvedPaths:
    """The paths of one acquisition, fixed at stage time.

    Attributes
    ----------
    write_directory
        The local directory the writer creates files in.
    root
        ``root`` as recorded in Resource documents.
    relative_directory
        The read directory below ``root`` (``"."`` when it is ``root`` itself), in
        the separators of ``path_semantics``.
    path_semantics
        ``"posix"`` or ``"windows"``, for the Resource document.
    """

    write_directory: Path
    root: str
    relative_directory: str
    path_semantics: PathSemantics

    def resource_path(self, relative_path: str) -> str:
        """Join a writer's ``relative_path`` below the read directory.

        An empty ``relative_path`` names the directory itself, and keeps a trailing
        separator, as directory-based specs (``AD_TIFF``) need.
        """
        pure = _pure(self.path_semantics)
        if not relative_path:
            separator = "\\" if self.path_semantics == "windows" else "/"
            return str(pure(self.relative_directory)) + separator
        return str(pure(self.relative_directory, *relative_path.split("/")))


@dataclass(frozen=True)
class PathTemplates:
    """ophyd-style path templates for file-writing devices.

    Parameters
    ----------
    write_path_template
        strftime template of the directory to write into; relative means below
        ``root``.
    root
        The non-semantic head of the path, recorded separately in documents.
        Must be absolute.
    read_path_template
        strftime template of the same directory as readers see it, when that
        differs from where the writer sees it. Then ``write_path_template`` is not
        checked against ``root`` (it lives on the writer's mount), as in ophyd.
    path_semantics
        ``"posix"`` or ``"windows"``: how readers spell ``root`` and
        ``read_path_template``.

    Raises
    ------
    ValueError
        For an unknown ``path_semantics``, a relative ``root``, or a NUL byte.
    """

    write_path_template: str
    root: str = "/"
    read_path_template: str | None = None
    path_semantics: PathSemantics = "posix"

    def __post_init__(self) -> None:
        if self.path_semantics not in PATH_SEMANTICS:
            raise ValueError(
                f"path_semantics {self.path_semantics!r} is not supported; "
                f"allowed: {', '.join(PATH_SEMANTICS)}"
            )
        for field, value in (
            ("write_path_template", self.write_path_template),
            ("root", self.root),
            ("read_path_template", self.read_path_template),
        ):
            if value is not None and "\0" in value:
                raise ValueError(f"{field} {value!r} contains a NUL byte; paths cannot")
        if not self.write_path_template:
            raise ValueError("write_path_template is empty; give the directory to write into")
        if not _pure(self.path_semantics)(self.root).is_absolute():
            raise ValueError(
                f"root {self.root!r} is not an absolute {self.path_semantics} path; "
                "root must be absolute"
            )
        if self.read_path_template is None and self.path_semantics != NATIVE_PATH_SEMANTICS:
            raise ValueError(
                f"path_semantics {self.path_semantics!r} differs from this machine's "
                f"({NATIVE_PATH_SEMANTICS!r}): give read_path_template for the path readers "
                "see, and an absolute local write_path_template"
            )
        if (
            self.read_path_template is not None
            and not Path(self.write_path_template).is_absolute()
        ):
            raise ValueError(
                f"write_path_template {self.write_path_template!r} must be an absolute local "
                "path when read_path_template is given (it is not relative to root then)"
            )

    def resolve(self, when: datetime) -> ResolvedPaths:
        """Fill the templates for ``when`` and check that the result stays in ``root``.

        Raises
        ------
        ValueError
            If the read path (the write path, when there is no separate read path)
            resolves outside ``root``, a template cannot be filled (a character
            strftime cannot encode), or a Windows directory name below ``root`` holds
            a ``:``; the message names the template and the path.
        """
        flavour = ntpath if self.path_semantics == "windows" else posixpath
        pure = _pure(self.path_semantics)
        root = flavour.normpath(self.root)
        template = self.read_path_template or self.write_path_template
        filled = _fill(template, when)
        read_directory = flavour.normpath(str(pure(root, filled)))  # absolute replaces root
        if not _inside(pure(read_directory), pure(root)):
            raise ValueError(
                f"path template {template!r} resolves to {read_directory!r}, outside root "
                f"{root!r}; a template must stay below root"
            )
        # Below root, by parts: joining them again must not read a part as a drive.
        below = pure(read_directory).parts[len(pure(root).parts) :]
        if self.path_semantics == "windows" and any(":" in part for part in below):
            raise ValueError(
                f"path template {template!r} resolves to {read_directory!r}, whose names "
                f"below root {root!r} hold a ':'; allowed: Windows names without ':'"
            )
        if self.read_path_template is None:
            write_directory = Path(read_directory)
        else:
            write_directory = Path(os.path.normpath(_fill(self.write_path_template, when)))
        separator = "\\" if self.path_semantics == "windows" else "/"
        return ResolvedPaths(
            write_directory=write_directory,
            root=root,
            relative_directory=separator.join(below) or ".",
            path_semantics=self.path_semantics,
        )


def _fill(template: str, when: datetime) -> str:
    try:
        return when.strftime(template)
    except UnicodeEncodeError as err:
        raise ValueError(
            f"path template {template!r} cannot be filled for {when.isoformat()}: {err}; "
            "allowed: text strftime can encode (no lone surrogates)"
        ) from None


def _pure(path_semantics: PathSemantics) -> type[PurePath]:
    return PureWindowsPath if path_semantics == "windows" else PurePosixPath


def _inside(path: PurePath, root: PurePath) -> bool:
    if isinstance(path, PureWindowsPath):
        # Windows paths compare case-insensitively.
        return PureWindowsPath(str(path).lower()).is_relative_to(str(root).lower())
    return path.is_relative_to(root)
