"""Choosing a Tiled server and connecting to it, with errors that say what went wrong."""

import socket
import time

import pytest

from bluesky_timelapse.tiled import (
    TiledAuthenticationError,
    TiledTarget,
    TiledUnreachableError,
    connect,
    tiled_settings,
)

ALLOWED = "http(s)://host[:port][/path]"


@pytest.fixture
def clean_environment(monkeypatch):
    monkeypatch.delenv("BLUESKY_TIMELAPSE_TILED_URI", raising=False)
    monkeypatch.delenv("TILED_API_KEY", raising=False)
    return monkeypatch


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_arguments_win_over_the_environment(clean_environment):
    clean_environment.setenv("BLUESKY_TIMELAPSE_TILED_URI", "https://tiled.example.org/api/v1")
    clean_environment.setenv("TILED_API_KEY", "fromenv")
    assert tiled_settings() == TiledTarget("https://tiled.example.org/api/v1", "fromenv")
    assert tiled_settings("http://other:8000", "given") == TiledTarget(
        "http://other:8000", "given"
    )
    assert tiled_settings(api_key="given").uri == "https://tiled.example.org/api/v1"


def test_nothing_set_means_the_embedded_server(clean_environment):
    assert tiled_settings() == TiledTarget(None, None)
    clean_environment.setenv("BLUESKY_TIMELAPSE_TILED_URI", "  ")
    clean_environment.setenv("TILED_API_KEY", "")
    assert tiled_settings() == TiledTarget(None, None)


def test_the_key_is_hidden_from_repr_and_str():
    target = TiledTarget("http://127.0.0.1:8000", "s3cr3tkey")
    assert repr(target) == "TiledTarget(uri='http://127.0.0.1:8000', api_key=<hidden>)"
    assert "s3cr3tkey" not in str(target)
    assert repr(TiledTarget("http://h")) == "TiledTarget(uri='http://h', api_key=None)"


@pytest.mark.parametrize(
    "uri",
    [
        "ftp://tiled.example.org",
        "localhost:8000",
        "tiled.example.org",
        "http://",
        "http://host:99999",
        "http://host:port",
        "http://host:0",
        "http://host name:8000",
    ],
)
def test_malformed_uris_are_refused_by_name(uri):
    with pytest.raises(ValueError, match=r"Tiled URI '.*' is .*; allowed: http\(s\)://host"):
        TiledTarget(uri)
    with pytest.raises(ValueError, match=r"^uri: Tiled URI"):
        tiled_settings(uri)


@pytest.mark.parametrize(
    "uri",
    [
        "http://127.0.0.1:8000?api_key=s3cr3tkey",
        "http://127.0.0.1:8000/api/v1#s3cr3tkey",
        "http://admin:s3cr3tkey@127.0.0.1:8000",
    ],
)
def test_a_key_inside_the_uri_is_refused_and_not_repeated(uri):
    with pytest.raises(ValueError, match="give the API key separately") as raised:
        TiledTarget(uri)
    assert "s3cr3tkey" not in str(raised.value)
    assert "127.0.0.1:8000" in str(raised.value)


def test_a_malformed_uri_from_the_environment_names_the_variable(clean_environment):
    clean_environment.setenv("BLUESKY_TIMELAPSE_TILED_URI", "ftp://x")
    with pytest.raises(ValueError, match=r"^\$BLUESKY_TIMELAPSE_TILED_URI: Tiled URI 'ftp://x'"):
        tiled_settings()


def test_an_unreachable_server_fails_fast_naming_the_uri():
    uri = f"http://127.0.0.1:{closed_port()}"
    began = time.monotonic()
    with pytest.raises(TiledUnreachableError, match=rf"cannot reach a Tiled server at {uri}"):
        connect(TiledTarget(uri, "s3cr3tkey"))
    assert time.monotonic() - began < 3.0


def test_a_wrong_key_fails_at_once_without_showing_it(local_server):
    began = time.monotonic()
    with pytest.raises(TiledAuthenticationError, match="refused the connection") as raised:
        connect(TiledTarget(local_server.uri, "wrongkey0123456789"))
    assert time.monotonic() - began < 3.0
    assert local_server.uri in str(raised.value)
    assert "wrongkey0123456789" not in str(raised.value)
    assert isinstance(raised.value, PermissionError)


def test_no_key_for_a_server_that_needs_one(local_server, clean_environment):
    with pytest.raises(TiledAuthenticationError, match="requires an API key"):
        connect(TiledTarget(local_server.uri))


def test_the_right_key_connects(local_server):
    client = connect(TiledTarget(local_server.uri + "/api/v1", local_server.api_key))
    assert [spec.name for spec in client.specs] == ["CatalogOfBlueskyRuns"]


def test_settings_from_the_environment_connect(local_server, clean_environment):
    clean_environment.setenv("BLUESKY_TIMELAPSE_TILED_URI", local_server.uri)
    clean_environment.setenv("TILED_API_KEY", local_server.api_key)
    client = connect()
    assert client.context.api_uri == f"{local_server.uri}/api/v1/"
    assert client.context.api_key == local_server.api_key
    assert [spec.name for spec in client.specs] == ["CatalogOfBlueskyRuns"]  # read with the key


def test_no_uri_finds_the_embedded_server_that_runs(local_server, data_dir, clean_environment):
    clean_environment.setenv("BLUESKY_TIMELAPSE_DIR", str(data_dir))
    client = connect(TiledTarget())
    assert client.context.api_uri == f"{local_server.uri}/api/v1/"


def test_no_uri_and_no_embedded_server(tmp_path, clean_environment):
    clean_environment.setenv("BLUESKY_TIMELAPSE_DIR", str(tmp_path))
    with pytest.raises(TiledUnreachableError, match="no embedded server runs for"):
        connect()
