"""Every cost of the HTTP service bounded: duplicates (a threshold floor, a pair cap, one
report at a time, cached per index generation), finished jobs pruned, request bodies that
stop arriving timed out; errors in the one JSON shape (a bad Range on a thumbnail too)."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from conftest import assert_error, make_image
from searchengine.duplicates.finder import find_duplicates
from searchengine.errors import InvalidInputError
from searchengine.http import jobs as jobs_module
from searchengine.http.app import create_app

LOCAL = "http://127.0.0.1:8000"


@pytest.fixture
def served(open_engine, tmp_path):
    root = tmp_path / "photos"
    for i in range(4):
        make_image(root / f"p{i}.png", seed=7, size=(48 + i, 40))  # near-identical
    engine = open_engine()
    engine.index([root])
    return engine, TestClient(create_app(engine), base_url=LOCAL)


def test_duplicates_have_a_floor_a_pair_cap_and_a_cache(served, monkeypatch):
    engine, client = served
    assert_error(client.get("/api/duplicates", params={"threshold": 0.7}), 422, "invalid_request")
    calls = []
    real = engine.duplicates
    monkeypatch.setattr(engine, "duplicates", lambda *a, **k: calls.append(1) or real(*a, **k))
    first = client.get("/api/duplicates", params={"threshold": 0.9}).json()
    again = client.get("/api/duplicates", params={"threshold": 0.9}).json()
    assert first == again and len(calls) == 1 and first["near_total"] == 1
    engine.index(None)  # nothing changed: same generation, still cached
    client.get("/api/duplicates", params={"threshold": 0.9})
    assert len(calls) == 1
    with pytest.raises(InvalidInputError, match="raise the threshold"):
        find_duplicates(engine.catalog, 0.5, max_pairs=2)


def test_finished_jobs_are_pruned(served, monkeypatch):
    engine, client = served
    monkeypatch.setattr(jobs_module, "KEEP_FINISHED", 2)
    ids = []
    for _ in range(5):
        job = client.post("/api/index").json()
        ids.append(job["id"])
        while client.get(f"/api/jobs/{job['id']}").json()["state"] == "running":
            time.sleep(0.05)
    app_jobs = client.app.state.search.jobs
    assert len(app_jobs) <= 3  # two finished kept, plus the newest
    assert_error(client.get(f"/api/jobs/{ids[0]}"), 404, "not_found")
    assert client.get(f"/api/jobs/{ids[-1]}").status_code == 200


def test_a_bad_range_on_a_thumbnail_is_answered_in_json(served):
    engine, client = served
    item = client.get("/api/search", params={"q": "x", "k": 1}).json()["hits"][0]
    assert_error(client.get(item["thumbnail_url"], headers={"Range": "pages=1-2"}), 400, "invalid_input")
    assert_error(client.get(item["thumbnail_url"], headers={"Range": "bytes=999999999-"}), 416, "range_not_satisfiable")
    assert client.get(item["thumbnail_url"], headers={"Range": "bytes=0-9"}).status_code == 206


def test_a_body_that_stops_arriving_is_answered_408():
    import anyio
    from fastapi import FastAPI
    from starlette.requests import Request
    from starlette.responses import JSONResponse

    from searchengine.http.errors import install_error_handlers
    from searchengine.http.limits import BodyLimit

    async def echo(request: Request) -> JSONResponse:
        return JSONResponse({"n": len(await request.body())})

    inner = FastAPI()
    inner.add_route("/", echo, methods=["POST"])
    install_error_handlers(inner)
    app = BodyLimit(inner, limit=1000, timeout=0.3)
    sent: list[dict] = []

    async def main() -> None:
        events = [{"type": "http.request", "body": b"abc", "more_body": True}]

        async def receive() -> dict:
            if events:
                return events.pop()
            await anyio.sleep(3600)  # the client stops sending (a half-open request)
            return {}

        async def send(message: dict) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "POST", "path": "/", "headers": [(b"content-length", b"100")],
                 "query_string": b"", "root_path": "", "scheme": "http", "server": ("127.0.0.1", 80)}
        with anyio.fail_after(5):
            await app(scope, receive, send)

    anyio.run(main)
    assert sent[0]["status"] == 408 and b"request_timeout" in sent[1]["body"]


def test_upload_decode_memory_is_bounded_in_bytes(served, monkeypatch):
    import io

    from PIL import Image

    from searchengine.http.routes import search as search_routes
    from searchengine.media.images import decode_bytes

    _, client = served
    buf = io.BytesIO()
    Image.new("RGB", (600, 600), (200, 30, 30)).save(buf, format="WEBP")
    opened = Image.open(io.BytesIO(buf.getvalue()))
    assert decode_bytes(opened) == 600 * 600 * 16  # WebP: RGBA through YUV planes
    monkeypatch.setattr(search_routes, "UPLOAD_MAX_DECODE_BYTES", 4 * 2**20)
    refused = client.post("/api/search/image", files={"file": ("big.webp", buf.getvalue(), "image/webp")})
    error = assert_error(refused, 400, "invalid_input")
    assert "MB" in error["message"] and "WEBP" in error["message"]
    small = io.BytesIO()
    Image.new("RGB", (300, 300), (200, 30, 30)).save(small, format="WEBP")
    assert client.post("/api/search/image", files={"file": ("ok.webp", small.getvalue(), "image/webp")}).status_code == 200
