"""Which Tiled server to use, and a client of it with errors that say what went wrong.

:func:`tiled_settings` resolves the server from arguments, then the environment
(``$BLUESKY_TIMELAPSE_TILED_URI``, ``$TILED_API_KEY``); no URI means the embedded
server (:class:`~bluesky_timelapse.tiled.LocalTiled`). :func:`connect` makes the
client, failing fast and clearly: a refused connection or an unknown host at once,
a silent host after ``timeout`` (5 s), instead of Tiled's 10 retries over 45 s; a
wrong key at once; a malformed URI before any request. No message and no ``repr``
contains the key.

>>> target = tiled_settings()  # doctest: +SKIP
>>> client = connect(target)  # doctest: +SKIP
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

__all__ = [
    "API_KEY_VARIABLE",
    "URI_VARIABLE",
    "TiledAuthenticationError",
    "TiledTarget",
    "TiledUnreachableError",
    "connect",
    "tiled_settings",
]

URI_VARIABLE = "BLUESKY_TIMELAPSE_TILED_URI"
"""Environment variable naming the Tiled server to use (unset: the embedded one)."""

API_KEY_VARIABLE = "TILED_API_KEY"
"""Environment variable holding the API key; Tiled's own client reads it too."""

ALLOWED_URI = "http(s)://host[:port][/path], with no user, query or fragment"
"""What :class:`TiledTarget` accepts as a URI, as its errors say."""

PROBE_TIMEOUT = 5.0
"""Default seconds :func:`connect` waits for the server's first answer."""


class TiledUnreachableError(ConnectionError):
    """No Tiled server answers at the URI (refused, unknown host, timeout, TLS)."""


class TiledAuthenticationError(PermissionError):
    """The Tiled server refused the API key, or needs one and none was given."""


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


def connect(
    target: TiledTarget | None = None,
    *,
    timeout: float = PROBE_TIMEOUT,
    **kwargs: Any,
) -> Any:
    """A Tiled client of ``target`` (default :func:`tiled_settings`).

    Parameters
    ----------
    target
        Where to connect. A target without URI means the embedded server that
        runs for ``default_data_dir() / "tiled"`` (``bluesky-timelapse serve``, or
        a :class:`~bluesky_timelapse.tiled.LocalTiled` in another process); its
        own key file is used.
    timeout
        Seconds to wait for the server's first answer, without retries.
    **kwargs
        Passed on to :func:`tiled.client.from_uri`.

    Raises
    ------
    TiledUnreachableError
        If nothing answers at the URI, or no URI is given and no embedded server
        runs. The message names the URI.
    TiledAuthenticationError
        If the server refuses the key (HTTP 401 or 403) or needs one that was not given.
        Raised at once: a refused key is not retried.
    """
    from tiled.client import from_uri
    from tiled.client.utils import ClientError

    if target is None:
        target = tiled_settings()
    if target.uri is None:
        target = _embedded_target()
    assert target.uri is not None
    uri = target.uri
    try:
        # Tiled's own first request retries for 45 s; a single probe fails fast.
        httpx.get(uri, timeout=timeout, follow_redirects=False)
    except httpx.HTTPError as err:
        raise TiledUnreachableError(
            f"cannot reach a Tiled server at {uri}: {err or type(err).__name__}"
        ) from None
    try:
        return from_uri(uri, api_key=target.api_key, **kwargs)
    except ClientError as err:
        if err.response.status_code in (401, 403):
            detail = "key refused" if target.api_key else "it needs an API key"
            raise TiledAuthenticationError(
                f"the Tiled server at {uri} refused the connection ({detail}: HTTP "
                f"{err.response.status_code}); check the key (${API_KEY_VARIABLE})"
            ) from None
        raise
    except RuntimeError as err:
        if "requires API key" in str(err):
            raise TiledAuthenticationError(
                f"the Tiled server at {uri} requires an API key and none was given; "
                f"pass api_key or set ${API_KEY_VARIABLE}"
            ) from None
        raise


def _embedded_target() -> TiledTarget:
    from ..locations import default_data_dir
    from .server import find_local_tiled

    directory = default_data_dir() / "tiled"
    found = find_local_tiled(directory)
    if found is None:
        raise TiledUnreachableError(
            f"no Tiled URI given (argument or ${URI_VARIABLE}) and no embedded server "
            f"runs for {str(directory)!r}; start one with 'bluesky-timelapse serve' or "
            "'with local_tiled() as server:'"
        )
    return found


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
