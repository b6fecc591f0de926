"""The MCP server through the official SDK's own client, over stdio (`searchengine mcp` in a
subprocess) and streamable HTTP (/mcp of the HTTP app, behind its token and Host rules), on a
real index (tiny open_clip, SQLite, FAISS)."""

from __future__ import annotations

import asyncio
import os
import sys
import wave
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import make_image

mcp = pytest.importorskip("mcp")
from mcp import Client  # noqa: E402
from mcp.client.stdio import StdioServerParameters  # noqa: E402


def _photo_with_exif(path: Path) -> Path:
    img = Image.fromarray((np.random.RandomState(5).rand(40, 48, 3) * 255).astype("uint8"))
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = "2023:07:14 18:30:05"  # DateTimeOriginal
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (48.0, 51.0, 29.6)  # Paris
    gps[3], gps[4] = "E", (2.0, 17.0, 40.2)
    img.save(path, exif=exif)
    return path


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, tiny_clip):
    from searchengine import SearchEngine, Settings
    from conftest import CACHE_DIR

    tmp = tmp_path_factory.mktemp("mcp")
    media = tmp / "media"
    for i in range(3):
        make_image(media / f"p{i}.png", seed=i)
    _photo_with_exif(media / "paris.jpg")
    (media / "note.txt").write_text("The lighthouse keeper logs every ship that passes the cape.")
    with wave.open(str(media / "talk.wav"), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000)
        w.writeframes((np.sin(np.arange(16000 * 4) / 20) * 3000).astype("<i2").tobytes())
    (media / "talk.srt").write_text("1\n00:00:00,500 --> 00:00:02,000\nwelcome to the harbour tour\n\n"
                                    "2\n00:00:02,000 --> 00:00:03,900\nthe old crane lifts containers\n")
    (tmp / "outside.png").write_bytes((media / "p0.png").read_bytes())
    settings = Settings(index_root=tmp / "indexes", model=tiny_clip, cache_dir=CACHE_DIR, ocr="off")
    engine = SearchEngine.open("m", settings=settings)
    report = engine.index([media])
    assert report.failed == 0, report.failures
    env = {**os.environ, "SEARCHENGINE_INDEX_ROOT": str(tmp / "indexes"), "SEARCHENGINE_MODEL": tiny_clip,
           "SEARCHENGINE_OCR": "off", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    yield engine, media, tmp, env
    engine.close()


async def _exercise(client: Client, media: Path, tmp: Path, http: bool) -> None:
    """The same checks over either transport."""
    names = {t.name for t in (await client.list_tools()).tools}
    assert names == {"search", "search_similar", "get_item", "status"}

    found = await client.call_tool("search", {"query": "lighthouse keeper", "mode": "keyword"})
    assert not found.is_error, found.content
    (first, *_) = found.structured_content["results"]
    assert first["path"] == str(media / "note.txt") and "lighthouse" in first["snippet"]
    assert first["chars"] == {"start": 0, "end": len("The lighthouse keeper logs every ship that passes the cape.")}
    assert ("media_url" in first) == http

    spoken = (await client.call_tool("search", {"query": "crane lifts", "mode": "keyword"})).structured_content
    talk = spoken["results"][0]
    assert talk["path"] == str(media / "talk.wav") and talk["seconds"]["start"] <= 2.0 <= talk["seconds"]["end"]
    assert "play_from" in talk

    hybrid = (await client.call_tool("search", {"query": "a photo", "k": 5, "modality": ["image"]})).structured_content
    assert hybrid["results"] and {r["modality"] for r in hybrid["results"]} == {"image"}
    paths = [r["path"] for r in hybrid["results"]]
    assert len(paths) == len(set(paths))  # one result per file

    item = (await client.call_tool("get_item", {"item_id": talk["id"]})).structured_content
    assert [s["text"] for s in item["transcript"]["segments"]] == ["welcome to the harbour tour",
                                                                   "the old crane lifts containers"]
    assert item["transcript"]["segments"][0]["start"] == pytest.approx(0.5)

    similar = await client.call_tool("search_similar", {"image_path": str(media / "paris.jpg"), "k": 2})
    assert not similar.is_error, similar.content
    paris = similar.structured_content["results"][0]
    assert paris["path"] == str(media / "paris.jpg")
    photo = (await client.call_tool("get_item", {"item_id": paris["id"]})).structured_content
    assert photo["date"] == "2023-07-14T18:30:05"
    assert photo["place"] == {"latitude": pytest.approx(48.858222), "longitude": pytest.approx(2.294500)}
    assert photo["text_in_image"] == []
    more = (await client.call_tool("search_similar", {"item_id": paris["id"], "k": 3})).structured_content
    assert more["results"] and all(r["id"] != paris["id"] for r in more["results"])

    outside = await client.call_tool("search_similar", {"image_path": str(tmp / "outside.png")})
    assert outside.is_error and "not inside the indexed folders" in outside.content[0].text
    missing = await client.call_tool("get_item", {"item_id": 987654})
    assert missing.is_error and "no indexed item has id 987654" in missing.content[0].text
    bad = await client.call_tool("search", {"query": "x", "after": "yesterday"})
    assert bad.is_error and "after" in bad.content[0].text

    status = (await client.call_tool("status", {})).structured_content
    assert status["modalities"]["image"]["files"] == 4 and status["roots"] == [str(media)]


def test_mcp_over_stdio(indexed):
    engine, media, tmp, env = indexed
    params = StdioServerParameters(command=sys.executable, args=["-m", "searchengine.cli", "mcp", "--index", "m"],
                                   env=env)

    async def main() -> None:
        async with Client(params, read_timeout_seconds=120) as client:
            await _exercise(client, media, tmp, http=False)

    asyncio.run(main())


def test_mcp_stdio_names_a_missing_index(indexed):
    import subprocess

    engine, media, tmp, env = indexed
    out = subprocess.run([sys.executable, "-m", "searchengine.cli", "mcp", "--index", "nope"], env=env,
                         capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)
    assert out.returncode == 3 and "no index" in out.stderr and out.stdout == ""


@pytest.fixture
def served(indexed):
    """The HTTP app on a real port (uvicorn runs its lifespan), with a token."""
    import socket
    import threading
    import time

    import uvicorn

    from searchengine.http.app import create_app

    engine, media, tmp, env = indexed
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = "a-token-long-enough-1234"
    srv = uvicorn.Server(uvicorn.Config(create_app(engine, api_token=token), host="127.0.0.1", port=port,
                                        log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not srv.started and time.time() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", token
    srv.should_exit = True
    thread.join(10)


def test_mcp_over_streamable_http_behind_the_token(indexed, served):
    import httpx
    import httpx2

    engine, media, tmp, env = indexed
    base, token = served

    async def main() -> None:
        from mcp.client.streamable_http import streamable_http_client

        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=120) as http:
            async with Client(streamable_http_client(f"{base}/mcp", http_client=http)) as client:
                await _exercise(client, media, tmp, http=True)
                found = await client.call_tool("search", {"query": "lighthouse", "mode": "keyword"})
                url = found.structured_content["results"][0]["media_url"]
        # the media URL resolves against the endpoint, and is served (with the token)
        absolute = httpx.URL(f"{base}/mcp").join(url)
        media_response = httpx.get(absolute, headers={"Authorization": f"Bearer {token}"})
        assert media_response.status_code == 200 and b"lighthouse" in media_response.content

    asyncio.run(main())

    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    no_token = httpx.post(f"{base}/mcp", json=body, headers=headers)
    assert no_token.status_code == 401 and no_token.json()["error"]["code"]
    other_host = httpx.post(f"{base}/mcp", json=body, headers={**headers, "Host": "evil.example",
                                                                "Authorization": f"Bearer {token}"})
    assert other_host.status_code in (400, 403, 421)
    cross_site = httpx.post(f"{base}/mcp", json=body, headers={**headers, "Origin": "https://evil.example",
                                                                "Authorization": f"Bearer {token}"})
    assert cross_site.status_code == 403
