"""A client whose request headers never complete (slowloris) is disconnected: a real
uvicorn server with the service's settings (http/serving.server_config), real sockets."""

import socket
import threading
import time

import pytest
import uvicorn

from searchengine.http.header_timeout import HeaderTimeoutH11Protocol
from searchengine.http.serving import server_config

LIMIT = 1.0  # the header limit in these tests (the service's is HEADER_SECONDS)


async def hello(scope, receive, send):
    assert scope["type"] == "http"
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


@pytest.fixture
def port(monkeypatch):
    monkeypatch.setattr(HeaderTimeoutH11Protocol, "header_seconds", LIMIT)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    config = server_config(hello, host="127.0.0.1", port=free, lifespan="off")
    config.timeout_keep_alive = 30  # longer than the header limit: that limit alone must act
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started and time.time() < deadline:
        time.sleep(0.02)
    yield free
    server.should_exit = True
    thread.join(5)


def closed_after(sock: socket.socket, drip: bytes = b"", every: float = 0.0, give_up: float = 8.0) -> float:
    """Seconds until the server closes ``sock`` (reads b""), sending ``drip`` a byte at a time."""
    t0 = time.monotonic()
    sock.settimeout(every or give_up)
    sent = 0
    while time.monotonic() - t0 < give_up:
        try:
            data = sock.recv(4096)
        except socket.timeout:
            if drip and sent < len(drip):
                try:
                    sock.sendall(drip[sent : sent + 1])
                except OSError:
                    return time.monotonic() - t0
                sent += 1
            continue
        except ConnectionResetError:
            return time.monotonic() - t0
        if data == b"":
            return time.monotonic() - t0
        raise AssertionError(f"the server answered a request it never got: {data!r}")
    return float("inf")


def test_partial_headers_are_cut_off(port):
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        assert LIMIT * 0.8 <= closed_after(sock) <= LIMIT + 2.0


def test_headers_dripped_a_byte_at_a_time_do_not_extend_the_limit(port):
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\n")
        assert closed_after(sock, drip=b"X-Slow: " + b"a" * 200, every=0.2) <= LIMIT + 2.0


def test_a_connection_that_sends_nothing_is_closed(port):
    with socket.create_connection(("127.0.0.1", port)) as sock:
        assert closed_after(sock) <= LIMIT + 2.0


def test_complete_requests_are_served_and_the_next_request_has_the_same_limit(port):
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(5)
        for _ in range(2):  # keep-alive: two requests, each well within the limit
            sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            reply = b""
            while not reply.endswith(b"ok"):
                reply += sock.recv(4096)
            assert reply.startswith(b"HTTP/1.1 200")
            time.sleep(LIMIT * 0.6)  # more than half the limit between requests: each has its own
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # a third request, never finished
        assert closed_after(sock) <= LIMIT + 2.0
