"""Settings that would weaken the server's defences are refused with one line and exit 2;
a port in use has its own exit code and nothing says "Serving" before the socket is bound;
the Host header is parsed strictly."""

from __future__ import annotations

import socket

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from conftest import assert_error
from searchengine.cli import EXIT_INDEX, EXIT_PORT, EXIT_USAGE, app
from searchengine.errors import InsecureSettingError, InvalidInputError
from searchengine.http.app import create_app
from searchengine.http.security import normalise_host
from searchengine.http.serving import ServeSettings

runner = CliRunner()
TOKEN = "t" * 24


def serve(*args, env=None):
    return runner.invoke(app, ["serve", *map(str, args)], env={"SEARCHENGINE_API_TOKEN": "", **(env or {})})


def one_error_line(result, *words):
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    for word in words:
        assert word in lines[0]
    assert "Serving" not in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("args, words", [
    (["--token", "short"], ["16"]),
    (["--allowed-host", "*"], ["token"]),
    (["--allowed-host", "rebind.evil.example"], ["token"]),
    (["--host", "0.0.0.0"], ["token"]),
    (["--allowed-host", "evil.example:80/x", "--token", TOKEN], ["host name"]),
])
def test_weakening_settings_are_refused_in_one_line(args, words, tmp_path):
    result = serve(*args, "--index-root", tmp_path, "--port", _free_port())
    assert result.exit_code == EXIT_USAGE
    one_error_line(result, *words)


def test_token_file(tmp_path):
    short = tmp_path / "short"
    short.write_text("abc\n")
    result = serve("--token-file", short, "--index-root", tmp_path, "--port", _free_port())
    assert result.exit_code == EXIT_USAGE
    one_error_line(result, "16")
    result = serve("--token-file", tmp_path / "nope", "--index-root", tmp_path)
    assert result.exit_code == EXIT_USAGE
    one_error_line(result, "--token-file")
    good = tmp_path / "token"
    good.write_text(TOKEN + "\n")
    result = serve("--token-file", good, "--token", TOKEN, "--index-root", tmp_path)
    assert result.exit_code == EXIT_USAGE
    one_error_line(result, "once")
    # a good token file passes the settings: the run goes on to open the (missing) index
    result = serve("--token-file", good, "--allowed-host", "search.example.org", "--index", "missing",
                   "--index-root", tmp_path, "--port", _free_port())
    assert result.exit_code == EXIT_INDEX
    one_error_line(result)


def test_a_port_in_use_has_its_own_exit_code_and_nothing_says_serving(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        result = serve("--port", busy.getsockname()[1], "--index-root", tmp_path)
    assert result.exit_code == EXIT_PORT
    one_error_line(result, "port")


def test_a_missing_index_exits_3_without_serving(tmp_path):
    result = serve("--index", "missing", "--index-root", tmp_path, "--port", _free_port())
    assert result.exit_code == EXIT_INDEX
    one_error_line(result)


def test_serve_settings():
    assert ServeSettings.check("127.0.0.1", 1, None, [], 10).allowed_hosts == ()
    assert ServeSettings.check("0.0.0.0", 1, TOKEN, [], 10).allowed_hosts == ("*",)
    assert ServeSettings.check("::1", 1, None, ["localhost"], 10).url_host == "[::1]"
    with pytest.raises(InsecureSettingError):
        ServeSettings.check("127.0.0.1", 1, None, ["*"], 10)
    with pytest.raises(InvalidInputError):
        ServeSettings.check("127.0.0.1", 1, TOKEN, ["user@evil.example"], 10)


@pytest.mark.parametrize("host, bare", [
    ("localhost:8000", "localhost"), ("[::1]:8000", "::1"), ("127.0.0.1", "127.0.0.1"), ("Example.ORG.", "example.org"),
    ("localhost:8000@evil.example", ""), ("[::1]evil.com", ""), ("localhost:80:80", ""), ("evil.example/x", ""),
    ("user@localhost", ""), ("localhost:", ""), ("", ""),
])
def test_host_parsing_is_strict(host, bare):
    assert normalise_host(host) == bare


def test_the_app_refuses_any_host_without_a_token_and_odd_hosts(open_engine):
    engine = open_engine()
    with pytest.raises(InsecureSettingError):
        create_app(engine, allowed_hosts=["*"])
    client = TestClient(create_app(engine, api_token=TOKEN, allowed_hosts=["*"]), base_url="http://127.0.0.1:8000")
    for host in ("localhost:8000@evil.example", "[::1]evil.com"):
        assert_error(client.get("/api/health", headers={"Host": host}), 400, "invalid_host")
    assert client.get("/api/health", headers={"Host": "rebind.evil.example"}).status_code == 200  # token-guarded
    assert client.get("/api/status", headers={"Host": "rebind.evil.example"}).status_code == 401


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_connections_on_the_served_socket_send_without_waiting_for_acks():
    """asyncio turns Nagle's algorithm off only on sockets that say they are TCP; a socket
    made with protocol 0 left it on, and each response's body waited for the client's
    delayed ACK of its headers (+40 ms a request for python-httpx clients)."""
    import asyncio

    from searchengine.http.serving import bind

    listener = bind("127.0.0.1", 0)
    port = listener.getsockname()[1]
    seen: list[int] = []

    class Probe(asyncio.Protocol):
        def connection_made(self, transport):  # type: ignore[override]
            sock = transport.get_extra_info("socket")
            seen.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(Probe, sock=listener)
        async with server:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            for _ in range(100):
                if seen:
                    break
                await asyncio.sleep(0.01)
            writer.close()

    asyncio.run(main())
    assert seen and seen[0] != 0
