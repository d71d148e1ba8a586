"""The names of the files another program drops into a folder: a path template, compiled.

:class:`FilePattern` reads a path template such as
``/data/{camera_name}/%Y/%m/%d/{timestamp:%Y%m%d%H%M%S}_{exposure_ms:d}.jpg``: which
paths match, which fields their names carry, where to look at a given time.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

FieldKind = Literal["string", "integer", "number", "time"]
ImageFormat = Literal["tiff", "jpeg", "png"]

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

    def existing_root(self) -> Path:
        """The :attr:`root`, checked to exist.

        Raises
        ------
        FileNotFoundError
            If it is not a directory, naming it and the template.
        """
        if not self.root.is_dir():
            raise FileNotFoundError(
                f"the directory {str(self.root)!r} of template {self.template!r} does not "
                "exist; create it, or mount the share that holds it"
            )
        return self.root

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
