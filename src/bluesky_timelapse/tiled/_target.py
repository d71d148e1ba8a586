"""Which Tiled server to use: a URI and an API key, from arguments or the environment.

:func:`tiled_settings` resolves the server from arguments, then the environment
(``$BLUESKY_TIMELAPSE_TILED_URI``, ``$TILED_API_KEY``); no URI means the embedded
server (:class:`~bluesky_timelapse.tiled.LocalTiled`). A malformed URI fails
here, before any request. No message and no ``repr`` contains the key.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlsplit

URI_VARIABLE = "BLUESKY_TIMELAPSE_TILED_URI"
"""Environment variable naming the Tiled server to use (unset: the embedded one)."""

API_KEY_VARIABLE = "TILED_API_KEY"
"""Environment variable holding the API key; Tiled's own client reads it too."""

ALLOWED_URI = "http(s)://host[:port][/path], with no user, query or fragment"
"""What :class:`TiledTarget` accepts as a URI, as its errors say."""


@dataclass(frozen=True)
class TiledTarget:
    """A Tiled server to connect to: its URI and API key.

    ``repr`` and ``str`` never show the key.

    Raises
    ------
    ValueError
        If ``uri`` is not ``http(s)://host[:port][/path]``.
    """

    uri: str | None = None
    """The server (``http://host:8000``, or the API root ``.../api/v1``), or None for the embedded one."""

    api_key: str | None = None
    """The API key; None to connect without one."""

    def __post_init__(self) -> None:
        if self.uri is not None:
            _check_uri(self.uri)

    def __repr__(self) -> str:
        key = "None" if self.api_key is None else "<hidden>"
        return f"{type(self).__name__}(uri={self.uri!r}, api_key={key})"

    __str__ = __repr__


def tiled_settings(uri: str | None = None, api_key: str | None = None) -> TiledTarget:
    """Resolve the Tiled server: arguments first, then the environment.

    Parameters
    ----------
    uri
        The server's URI; default ``$BLUESKY_TIMELAPSE_TILED_URI``. Neither given
        (or empty) means the embedded server.
    api_key
        The API key; default ``$TILED_API_KEY``. Empty means none.

    Raises
    ------
    ValueError
        If the URI (from either source, which the message names) is malformed.
    """
    source = "uri"
    if not uri:
        uri, source = os.environ.get(URI_VARIABLE), f"${URI_VARIABLE}"
    if not api_key:
        api_key = os.environ.get(API_KEY_VARIABLE)
    uri = uri.strip() if uri else None
    api_key = api_key.strip() if api_key else None
    try:
        return TiledTarget(uri or None, api_key or None)
    except ValueError as err:
        raise ValueError(f"{source}: {err}") from None


def _check_uri(uri: object) -> None:
    if not isinstance(uri, str):
        raise ValueError(f"Tiled URI {uri!r} is not a string; allowed: {ALLOWED_URI}")
    shown = _redacted(uri)
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        raise ValueError(
            f"Tiled URI {shown!r} is malformed (bad port?); allowed: {ALLOWED_URI}"
        ) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"Tiled URI {shown!r} is malformed; allowed: {ALLOWED_URI}")
    if parts.username is not None or parts.password is not None:
        raise ValueError(
            f"Tiled URI {shown!r} carries a user name or password; allowed: {ALLOWED_URI} "
            "(give the API key separately)"
        )
    if parts.query or parts.fragment or uri.rstrip().endswith(("?", "#")):
        raise ValueError(
            f"Tiled URI {shown!r} has a query or fragment; allowed: {ALLOWED_URI} "
            "(give the API key separately, not as ?api_key=)"
        )
    if port == 0 or any(character.isspace() for character in uri):
        raise ValueError(f"Tiled URI {shown!r} is malformed; allowed: {ALLOWED_URI}")


def _redacted(uri: str) -> str:
    """``uri`` without user info, query or fragment: what an error message may show."""
    cuts = [index for index in (uri.find("?"), uri.find("#")) if index >= 0]
    shown = uri[: min(cuts)] + "..." if cuts else uri
    scheme, separator, rest = shown.partition("://")
    if not separator:
        scheme, rest = "", shown
    authority, slash, path = rest.partition("/")
    if "@" in authority:
        authority = "***@" + authority.rpartition("@")[2]
    return f"{scheme}{separator}{authority}{slash}{path}"
