"""The HTTP API through FastAPI's test client, on a real index."""

import io
import time

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from conftest import SAMPLES, assert_error, make_image
from searchengine.http.app import create_app

LOCAL = "http://127.0.0.1:8000"  # the server answers loopback Host names only


@pytest.fixture
def indexed(open_engine, tmp_path):
    media = tmp_path / "media"
    for i in range(5):
        make_image(media / f"p{i}.png", seed=i)
    (media / "note.md").write_text("a dog running on a beach")
    engine = open_engine()
    engine.index([media])
    return engine, media


@pytest.fixture
def client(indexed):
    return TestClient(create_app(indexed[0], max_upload_bytes=200_000), base_url=LOCAL)


def png_bytes(seed):
    buf = io.BytesIO()
    Image.frombytes("RGB", (8, 8), bytes((seed * 7 + i) % 256 for i in range(192))).save(buf, "PNG")
    return buf.getvalue()


def test_health_status_and_openapi(client):
    assert client.get("/api/health").json()["status"] == "ok"
    status = client.get("/api/status").json()
    assert status["vectors"] == 6 and status["modalities"]["image"]["files"] == 5
    paths = client.get("/openapi.json").json()["paths"]
    for p in ("/api/search", "/api/search/image", "/api/items/{item_id}", "/api/items/{item_id}/similar",
              "/api/items/{item_id}/thumbnail", "/api/items/{item_id}/media", "/api/index", "/api/jobs/{job_id}"):
        assert p in paths


def test_text_search_get_and_post_with_filters_and_pages(client):
    hits = client.get("/api/search", params={"q": "a dog running on a beach", "k": 3}).json()
    assert hits["hits"][0]["name"] == "note.md" and hits["hits"][0]["text"] == "a dog running on a beach"
    assert hits["next_offset"] == 3
    posted = client.post("/api/search", json={"q": "a dog running on a beach", "k": 3}).json()
    assert [h["id"] for h in posted["hits"]] == [h["id"] for h in hits["hits"]]
    only = client.get("/api/search", params=[("q", "x"), ("modality", "image"), ("k", "50")]).json()
    assert len(only["hits"]) == 5 and {h["modality"] for h in only["hits"]} == {"image"}
    assert only["next_offset"] is None
    assert all(h["thumbnail_url"] for h in only["hits"])
    glob = client.post("/api/search", json={"q": "x", "path": "p1.png"}).json()
    assert [h["name"] for h in glob["hits"]] == ["p1.png"]
    page2 = client.get("/api/search", params={"q": "x", "k": 2, "offset": 2}).json()
    all4 = client.get("/api/search", params={"q": "x", "k": 4}).json()
    assert [h["id"] for h in page2["hits"]] == [h["id"] for h in all4["hits"][2:]]
    old = client.get("/api/search", params={"q": "x", "before": "2001-01-01T00:00:00"}).json()
    assert old["hits"] == []
    first = hits["hits"][0]["id"]
    assert client.get(f"/api/items/{first}/similar", params={"before": "2001-01-01T00:00:00"}).json()["hits"] == []


@pytest.mark.parametrize("request_args,field", [
    (("get", "/api/search", {"params": {"k": 3}}), "q"),
    (("get", "/api/search", {"params": {"q": "x", "k": 0}}), "k"),
    (("get", "/api/search", {"params": {"q": "x", "modality": "smell"}}), "modality"),
    (("post", "/api/search", {"json": {"q": ""}}), "q"),
    (("post", "/api/search", {"content": b"{not json", "headers": {"content-type": "application/json"}}), ""),
    (("get", "/api/items/abc", {}), "item_id"),
])
def test_bad_requests_get_one_error_shape(client, request_args, field):
    method, url, kwargs = request_args
    error = assert_error(getattr(client, method)(url, **kwargs), 422, "invalid_request")
    assert any(field in d["field"] for d in error["details"])


def test_blank_query_and_out_of_range_ids_are_422(client):
    assert_error(client.get("/api/search", params={"q": "   "}), 422, "invalid_request")
    assert_error(client.post("/api/search", json={"q": " \t"}), 422, "invalid_request")
    for url in ("/api/items/99999999999999999999", "/api/items/0/media", "/api/items/-3/similar",
                "/api/items/99999999999999999999/thumbnail"):
        assert_error(client.get(url), 422, "invalid_request")


def test_chunked_upload_is_cut_off_at_the_limit(client):
    sent = {"bytes": 0}

    def body():
        boundary = b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.png\"\r\n\r\n"
        yield boundary
        for _ in range(200):  # 200 x 64 KiB = 12.5 MiB, far past the 200 kB limit
            sent["bytes"] += 65536
            yield b"0" * 65536
        yield b"\r\n--b--\r\n"

    response = client.post("/api/search/image", content=body(),
                           headers={"content-type": "multipart/form-data; boundary=b"})
    assert_error(response, 413, "too_large")


def test_http_details_405_allow_416_and_openapi(client, indexed):
    _, media = indexed
    response = client.delete("/api/search")
    assert_error(response, 405, "method_not_allowed")
    assert "GET" in response.headers["allow"]
    hit = client.get("/api/search", params={"q": "x", "modality": "image", "k": 1}).json()["hits"][0]
    size = (media / hit["name"]).stat().st_size
    bad_range = client.get(hit["media_url"], headers={"Range": f"bytes={size + 10}-"})
    assert_error(bad_range, 416, "range_not_satisfiable")
    assert bad_range.headers["content-range"] == f"bytes */{size}"
    spec = client.get("/openapi.json").json()
    assert "securitySchemes" not in spec.get("components", {})  # no token: nothing to send
    assert "401" not in spec["paths"]["/api/search"]["get"]["responses"]
    engine, _ = indexed
    locked = TestClient(create_app(engine, api_token="t" * 16), base_url=LOCAL).get("/openapi.json").json()
    assert {"HTTPBearer", "APIKeyHeader"} <= set(locked["components"]["securitySchemes"])
    assert "401" not in locked["paths"]["/api/health"]["get"]["responses"]
    assert "401" in locked["paths"]["/api/search"]["get"]["responses"]
    sizes = next(p for p in spec["paths"]["/api/items/{item_id}/thumbnail"]["get"]["parameters"] if p["name"] == "size")
    schema = sizes["schema"]
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    assert schema["enum"] == [128, 256, 512]
    assert "image/jpeg" in spec["paths"]["/api/items/{item_id}/thumbnail"]["get"]["responses"]["200"]["content"]


def test_files_in_symlinked_folders_are_served(open_engine, tmp_path):
    """A symlinked folder whose target stays inside the indexed folder is followed and
    served (one pointing outside is not: tests/test_http_security.py)."""
    import os

    root = tmp_path / "root"
    inner = root / "albums" / "2024"
    make_image(inner / "linked.png", seed=3)
    os.symlink(inner, root / "link")
    (root / "albums" / ".hide").mkdir()
    os.rename(inner, root / "albums" / ".hide" / "2024")  # reachable only through the link
    os.unlink(root / "link")
    os.symlink(root / "albums" / ".hide" / "2024", root / "link")
    engine = open_engine("links")
    engine.index([root])
    client = TestClient(create_app(engine), base_url=LOCAL)
    hit = client.get("/api/search", params={"q": "x", "k": 1}).json()["hits"][0]
    assert hit["path"] == str(root / "link" / "linked.png")
    assert client.get(hit["media_url"]).content == (root / "albums" / ".hide" / "2024" / "linked.png").read_bytes()
    assert client.get(hit["thumbnail_url"]).status_code == 200


def test_an_upload_with_too_many_pixels_is_refused(client):
    buf = io.BytesIO()
    Image.new("L", (9000, 9000), 128).save(buf, "PNG", optimize=True)  # 81 Mpx, a few hundred kB
    error = assert_error(client.post("/api/search/image", files={"file": ("big.png", buf.getvalue())}), 400, "invalid_input")
    assert "million" in error["message"]


def test_image_upload_search_and_its_errors(client, indexed):
    _, media = indexed
    data = (media / "p2.png").read_bytes()
    hits = client.post("/api/search/image", files={"file": ("q.png", data, "image/png")}, data={"k": "2"}).json()
    assert hits["hits"][0]["name"] == "p2.png" and hits["hits"][0]["score"] == pytest.approx(1.0, abs=1e-4)
    filtered = client.post("/api/search/image", files={"file": ("q.png", data)}, data={"modality": "text"}).json()
    assert [h["modality"] for h in filtered["hits"]] == ["text"]
    assert_error(client.post("/api/search/image", files={"file": ("x.png", b"garbage")}), 400, "invalid_input")
    assert_error(client.post("/api/search/image", files={"file": ("x.png", b"")}), 400, "invalid_input")
    assert_error(client.post("/api/search/image", files={"file": ("x.png", b"0" * 230_000)}), 413, "too_large")
    assert_error(client.post("/api/search/image", files={"file": ("x.png", b"0" * 2_000_000)}), 413, "too_large")
    assert_error(client.post("/api/search/image", data={"k": "3"}), 422, "invalid_request")


def test_items_similar_thumbnail_and_media(client, indexed):
    engine, media = indexed
    image_hit = client.get("/api/search", params={"q": "x", "modality": "image", "path": "p3.png"}).json()["hits"][0]
    item = client.get(f"/api/items/{image_hit['id']}").json()
    assert item["path"] == str(media / "p3.png") and item["size"] == (media / "p3.png").stat().st_size

    similar = client.get(f"/api/items/{image_hit['id']}/similar", params={"k": 3}).json()["hits"]
    assert image_hit["id"] not in [h["id"] for h in similar] and len(similar) == 3

    thumb = client.get(image_hit["thumbnail_url"])
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(thumb.content)).size[0] <= 256
    assert len(list((engine.layout.folder / "thumbnails").iterdir())) == 1
    assert client.get(image_hit["thumbnail_url"]).content == thumb.content
    assert_error(client.get(image_hit["thumbnail_url"], params={"size": 7}), 422, "invalid_request")
    assert client.get(image_hit["thumbnail_url"], params={"size": 128}).status_code == 200

    whole = client.get(image_hit["media_url"])
    assert whole.content == (media / "p3.png").read_bytes() and whole.headers["accept-ranges"] == "bytes"
    part = client.get(image_hit["media_url"], headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == (media / "p3.png").read_bytes()[10:20]
    tail = client.get(image_hit["media_url"], headers={"Range": "bytes=-5"})
    assert tail.status_code == 206 and tail.content == (media / "p3.png").read_bytes()[-5:]
    for bad in ("bytes=abc", "bytes=", "bytes=5", "bytes=10-5", "items=0-10", "bytes=-"):
        assert_error(client.get(image_hit["media_url"], headers={"Range": bad}), 400, "invalid_input")
    for unsatisfiable in ("bytes=-0", "bytes=0-10,99999999-99999999"):
        assert_error(client.get(image_hit["media_url"], headers={"Range": unsatisfiable}), 416, "range_not_satisfiable")
    head = client.head(image_hit["media_url"])
    assert head.status_code == 200 and int(head.headers["content-length"]) == (media / "p3.png").stat().st_size

    text_hit = client.get("/api/search", params={"q": "dog", "modality": "text"}).json()["hits"][0]
    assert_error(client.get(f"/api/items/{text_hit['id']}/thumbnail"), 415, "unsupported_media")
    assert_error(client.get("/api/items/999999"), 404, "not_found")
    assert_error(client.get("/api/items/999999/media"), 404, "not_found")
    assert_error(client.get("/api/items/999999/similar"), 404, "not_found")
    assert_error(client.get("/api/nothing-here"), 404, "not_found")
    assert_error(client.delete("/api/search"), 405, "method_not_allowed")

    (media / "p3.png").unlink()
    assert_error(client.get(image_hit["media_url"]), 404, "not_found")


def test_token_protects_everything_but_health(indexed):
    client = TestClient(create_app(indexed[0], api_token="s3cret-s3cret-s3cret"), base_url=LOCAL)
    assert client.get("/api/health").status_code == 200
    assert_error(client.get("/api/search", params={"q": "x"}), 401, "unauthorized")
    assert_error(client.get("/api/search", params={"q": "x"}, headers={"Authorization": "Bearer nope"}), 401, "unauthorized")
    assert client.get("/api/search", params={"q": "x"}, headers={"Authorization": "Bearer s3cret-s3cret-s3cret"}).status_code == 200
    assert client.get("/api/search", params={"q": "x"}, headers={"X-API-Token": "s3cret-s3cret-s3cret"}).status_code == 200
    assert client.get("/api/search", params={"q": "x", "token": "s3cret-s3cret-s3cret"}).status_code == 200


def test_index_job_runs_in_background_while_searches_answer(indexed):
    engine, media = indexed
    for i in range(5, 40):
        make_image(media / f"new{i}.png", seed=i, size=(120, 100))
    client = TestClient(create_app(engine), base_url=LOCAL)
    job = client.post("/api/index")
    assert job.status_code == 202
    job_id = job.json()["id"]
    assert_error(client.post("/api/index"), 409, "conflict")
    answered = 0
    deadline = time.time() + 120
    while time.time() < deadline:
        response = client.get("/api/search", params={"q": "x", "k": 100})
        assert response.status_code == 200
        ids = [h["id"] for h in response.json()["hits"]]
        assert len(ids) == len(set(ids))
        answered += 1
        state = client.get(f"/api/jobs/{job_id}").json()
        if state["state"] != "running":
            break
    assert state["state"] == "done", state
    assert state["report"]["added"] == 35 and state["done"] == state["total"] == 35
    assert answered >= 2
    assert client.get("/api/status").json()["vectors"] == 41
    assert_error(client.get("/api/jobs/nope"), 404, "not_found")


def test_audio_hits_over_http(samples_engine):
    client = TestClient(create_app(samples_engine), base_url=LOCAL)
    hit = client.get("/api/search", params={"q": "The Middle Ages brought calligraphy to perfection",
                                            "modality": "audio", "k": 1}).json()["hits"][0]
    assert hit["name"] == "printing-history.flac" and abs(hit["moment"] - 20.18) < 3
    item = client.get(f"/api/items/{hit['id']}").json()
    assert item["transcript"]["segments"] and item["thumbnail_url"] is None
    part = client.get(hit["media_url"], headers={"Range": "bytes=1000-"})
    assert part.status_code == 206 and part.headers["content-type"] == "audio/flac"
    assert int(part.headers["content-length"]) == (SAMPLES / "audio" / "printing-history.flac").stat().st_size - 1000


def test_the_app_works_mounted_under_a_prefix(indexed):
    from fastapi import FastAPI

    engine, _ = indexed
    host = FastAPI()
    host.mount("/search", create_app(engine))
    client = TestClient(host, base_url=LOCAL)
    page = client.get("/search/")
    assert page.status_code == 200 and 'src="/search/static/app.js"' in page.text
    assert client.get("/search/static/app.js").status_code == 200
    hit = client.get("/search/api/search", params={"q": "x", "modality": "image", "k": 1}).json()["hits"][0]
    assert hit["media_url"].startswith("/search/api/items/") and hit["thumbnail_url"].startswith("/search/")
    assert client.get(hit["thumbnail_url"]).status_code == 200
    assert client.get(f"/search/api/items/{hit['id']}").json()["media_url"] == hit["media_url"]
