"""The embedded Tiled server listens on loopback only and answers only with its key."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import httpx
import pytest
from bluesky_tiled_plugins import TiledWriter
from event_model import compose_run

from bluesky_timelapse.tiled import LocalTiled, TiledAuthenticationError, TiledTarget, connect

PROTECTED = ["/api/v1/metadata/", "/api/v1/search/", "/api/v1/search/?page[limit]=1"]
"""Endpoints that show what the catalog holds."""


def _port(local_server: LocalTiled) -> int:
    port = urlsplit(local_server.uri).port
    assert port is not None
    return port


def _outbound_address() -> str | None:
    """This machine's address on its default route, if it has one that is not loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.254", 9))  # UDP connect sends no packet
        except OSError:
            return None
        address: str = probe.getsockname()[0]
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def test_uri_names_loopback_and_no_key(local_server: LocalTiled) -> None:
    parts = urlsplit(local_server.uri)
    assert parts.hostname == "127.0.0.1"
    assert not parts.query and not parts.username
    assert local_server.api_key not in local_server.uri
    assert local_server.api_key not in repr(local_server)
    assert local_server.api_key not in repr(local_server.target)


def test_the_listening_socket_is_bound_to_loopback_only(local_server: LocalTiled) -> None:
    psutil = pytest.importorskip("psutil", reason="psutil is missing (pip install psutil)")
    assert local_server.pid is not None
    process = psutil.Process(local_server.pid)
    processes = [process, *process.children(recursive=True)]
    listening = [
        connection.laddr
        for each in processes
        for connection in each.net_connections(kind="inet")
        if connection.status == psutil.CONN_LISTEN
    ]
    assert listening, "the server process listens on nothing"
    assert {address.ip for address in listening} == {"127.0.0.1"}
    assert {address.port for address in listening} == {_port(local_server)}


def test_nothing_answers_on_a_non_loopback_address(local_server: LocalTiled) -> None:
    address = _outbound_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    with (
        pytest.raises(OSError),
        socket.create_connection((address, _port(local_server)), timeout=3),
    ):
        pass


@pytest.mark.parametrize("path", PROTECTED)
def test_a_request_without_key_is_refused(local_server: LocalTiled, path: str) -> None:
    response = httpx.get(local_server.uri + path, trust_env=False, timeout=10)
    assert response.status_code in (401, 403), response.text


@pytest.mark.parametrize("path", PROTECTED)
@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Apikey 0123456789abcdef"},
        {"Authorization": "Bearer 0123456789abcdef"},
        {"Authorization": "Apikey"},
    ],
    ids=["wrong-apikey", "wrong-bearer", "empty-apikey"],
)
def test_a_wrong_key_is_refused(
    local_server: LocalTiled, path: str, headers: dict[str, str]
) -> None:
    response = httpx.get(local_server.uri + path, headers=headers, trust_env=False, timeout=10)
    assert response.status_code in (401, 403), response.text


@pytest.mark.parametrize("path", PROTECTED)
def test_a_wrong_key_in_the_query_is_refused(local_server: LocalTiled, path: str) -> None:
    separator = "&" if "?" in path else "?"
    url = f"{local_server.uri}{path}{separator}api_key=0123456789abcdef"
    response = httpx.get(url, trust_env=False, timeout=10)
    assert response.status_code in (401, 403), response.text


def test_a_key_that_differs_only_in_case_or_length_is_refused(local_server: LocalTiled) -> None:
    key = local_server.api_key
    for wrong in (key.upper() if key.upper() != key else key.lower(), key[:-1], key + "0"):
        response = httpx.get(
            local_server.uri + "/api/v1/metadata/",
            headers={"Authorization": f"Apikey {wrong}"},
            trust_env=False,
            timeout=10,
        )
        assert response.status_code in (401, 403)


@pytest.mark.parametrize("path", PROTECTED)
def test_the_right_key_is_accepted(local_server: LocalTiled, path: str) -> None:
    response = httpx.get(
        local_server.uri + path,
        headers={"Authorization": f"Apikey {local_server.api_key}"},
        trust_env=False,
        timeout=10,
    )
    assert response.status_code == 200, response.text


def test_connect_refuses_a_wrong_key_and_never_shows_it(local_server: LocalTiled) -> None:
    wrong = "f" * 64
    with pytest.raises(TiledAuthenticationError) as refused:
        connect(TiledTarget(local_server.uri, wrong), trust_env=False)
    assert wrong not in str(refused.value)
    assert local_server.api_key not in str(refused.value)
    with pytest.raises(TiledAuthenticationError):
        connect(TiledTarget(local_server.uri, None), trust_env=False)


def test_the_client_with_the_key_reads_the_catalog(local_server: LocalTiled) -> None:
    run = compose_run(metadata={"written": "with the key"})
    writer = TiledWriter(local_server.client())
    writer("start", run.start_doc)
    writer("stop", run.compose_stop())
    client = connect(local_server.target, trust_env=False)
    assert [spec.name for spec in client.specs] == ["CatalogOfBlueskyRuns"]
    assert run.start_doc["uid"] in list(client)
    assert client[run.start_doc["uid"]].metadata["start"]["written"] == "with the key"
