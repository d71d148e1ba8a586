"""A client of a Tiled server, with errors that say what went wrong.

:func:`connect` makes the client of a :class:`~bluesky_timelapse.tiled.TiledTarget`
(default :func:`~bluesky_timelapse.tiled.tiled_settings`), failing fast and
clearly: a refused connection or an unknown host at once, a silent host after
``timeout`` (5 s), instead of Tiled's 10 retries over 45 s; a wrong key at once.
No message and no ``repr`` contains the key.

>>> target = tiled_settings()  # doctest: +SKIP
>>> client = connect(target)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import httpx

from ..data_dir import DataDirectory
from ._server import find_local_tiled
from ._target import API_KEY_VARIABLE, URI_VARIABLE, TiledTarget, tiled_settings

PROBE_TIMEOUT = 5.0
"""Default seconds :func:`connect` waits for the server's first answer."""


class TiledUnreachableError(ConnectionError):
    """No Tiled server answers at the URI (refused, unknown host, timeout, TLS)."""


class TiledAuthenticationError(PermissionError):
    """The Tiled server refused the API key, or needs one and none was given."""


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
        runs for ``DataDirectory.default().tiled`` (``bluesky-timelapse serve``, or
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
    directory = DataDirectory.default().tiled
    found = find_local_tiled(directory)
    if found is None:
        raise TiledUnreachableError(
            f"no Tiled URI given (argument or ${URI_VARIABLE}) and no embedded server "
            f"runs for {str(directory)!r}; start one with 'bluesky-timelapse serve' or "
            "'with local_tiled() as server:'"
        )
    return found
