"""The HTTP service refuses other origins and serves only the files that were indexed, inside
the index's folders: Host, Origin, Sec-Fetch-Site, headers, tokens, symlink probes."""

from __future__ import annotations

import os
import re

import pytest
from fastapi.testclient import TestClient

from conftest import assert_error, make_image
from searchengine.errors import InsecureSettingError
from searchengine.http.app import SESSION_COOKIE, create_app
from searchengine.http.security import MIN_TOKEN_LENGTH

LOCAL = "http://127.0.0.1:8000"
TOKEN = "k" * 24


@pytest.fixture
def indexed(open_engine, tmp_path):
    root = tmp_path / "photos"
    make_image(root / "a.png", seed=1)
    make_image(root / "b.png", seed=2)
    (root / "note.md").write_text("a dog running on a beach")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("the launch codes are hidden under the mattress")
    os.symlink(outside / "secret.txt", root / "secret.txt")
    os.symlink(outside, root / "elsewhere")
    os.symlink("/etc/passwd", root / "passwd.txt")
    engine = open_engine()
    report = engine.index([root])
    assert report.failed == 0, report.failures
    return engine, root, outside


@pytest.fixture
def client(indexed):
    return TestClient(create_app(indexed[0]), base_url=LOCAL)


def _image_hit(client, name="a.png"):
    hits = client.get("/api/search", params={"q": "x", "modality": "image", "k": 10}).json()["hits"]
    return next(h for h in hits if h["name"] == name)


@pytest.mark.parametrize("host", ["127.0.0.1:8000", "localhost:8000", "[::1]:8000", "127.0.0.1", "LOCALHOST"])
def test_loopback_hosts_are_answered(client, host):
    assert client.get("/api/health", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "127.0.0.1.evil.example", "", "0.0.0.0:8000"])
def test_other_hosts_are_refused_everywhere(client, host):
    """DNS rebinding: a page on evil.example whose name now resolves to 127.0.0.1."""
    for url in ("/api/search?q=x", "/api/items/1/media", "/", "/static/app.js", "/openapi.json"):
        response = client.get(url, headers={"Host": host})
        assert_error(response, 400, "invalid_host")
        assert response.headers["x-content-type-options"] == "nosniff"


def test_an_allowed_host_can_be_added(indexed):
    client = TestClient(create_app(indexed[0], allowed_hosts=["photos.lan"]), base_url="http://photos.lan:8000")
    assert client.get("/api/search", params={"q": "x"}).status_code == 200
    assert_error(client.get("/api/search", params={"q": "x"}, headers={"Host": "evil.example"}), 400, "invalid_host")


def test_cross_site_state_changes_are_refused(client):
    for origin in ("http://evil.example", "http://127.0.0.1:9999", "null", "https://127.0.0.1:8000"):
        assert_error(client.post("/api/index", headers={"Origin": origin}), 403, "forbidden_origin")
        assert_error(client.post("/api/search", json={"q": "x"}, headers={"Origin": origin}), 403, "forbidden_origin")
    assert_error(client.post("/api/index", headers={"Sec-Fetch-Site": "cross-site"}), 403, "forbidden_origin")
    assert_error(client.post("/api/index", headers={"Sec-Fetch-Site": "same-site"}), 403, "forbidden_origin")
    # the page's own requests, and clients that are not browsers, go through
    assert client.post("/api/search", json={"q": "x"}, headers={"Origin": LOCAL}).status_code == 200
    assert client.post("/api/search", json={"q": "x"}, headers={"Sec-Fetch-Site": "same-origin"}).status_code == 200
    assert client.post("/api/search", json={"q": "x"}).status_code == 200
    job = client.post("/api/index", headers={"Origin": LOCAL})
    assert job.status_code == 202


def test_other_sites_cannot_embed_or_read_media(client):
    hit = _image_hit(client)
    assert_error(client.get(hit["media_url"], headers={"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"}),
                 403, "forbidden_origin")
    ok = client.get(hit["media_url"], headers={"Sec-Fetch-Site": "same-origin"})
    assert ok.status_code == 200 and ok.headers["cross-origin-resource-policy"] == "same-origin"


def test_security_headers_on_pages_media_and_json(client):
    page = client.get("/")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert not re.search(r"<script>[^<]", page.text), "the page must run no inline script (CSP)"
    hit = _image_hit(client)
    for url in (hit["media_url"], hit["thumbnail_url"], "/api/search?q=x", "/static/app.js"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["content-security-policy"]
    assert "sandbox" in client.get(hit["media_url"]).headers["content-security-policy"]


def test_the_page_builds_no_url_with_the_token(client):
    script = client.get("/static/app.js").text
    assert "token=" not in script.replace('params.get("token")', "").replace('params.delete("token")', "")
    assert "/api/session" in script


def test_tokens_must_be_long_enough(indexed):
    for short in ("", "t", "s3cret", "x" * (MIN_TOKEN_LENGTH - 1)):
        with pytest.raises(InsecureSettingError, match="at least"):
            create_app(indexed[0], api_token=short)
    create_app(indexed[0], api_token="x" * MIN_TOKEN_LENGTH)


def test_the_session_cookie_replaces_the_token_in_links(indexed):
    client = TestClient(create_app(indexed[0], api_token=TOKEN), base_url=LOCAL)
    hit = client.get("/api/search", params={"q": "x", "modality": "image"}, headers={"Authorization": f"Bearer {TOKEN}"}).json()["hits"][0]
    assert_error(client.get(hit["media_url"]), 401, "unauthorized")
    assert_error(client.post("/api/session"), 401, "unauthorized")
    started = client.post("/api/session", headers={"Authorization": f"Bearer {TOKEN}", "Origin": LOCAL})
    assert started.status_code == 204
    cookie = started.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and TOKEN not in cookie
    assert client.get(hit["media_url"]).status_code == 200  # the cookie, no token in the URL
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, "forged")
    assert_error(client.get(hit["media_url"]), 401, "unauthorized")


@pytest.mark.parametrize("header", ["bytes=" + "9" * 5000 + "-", "bytes=0-" + "9" * 5000, "bytes=-" + "9" * 4400, "bytes=01-02", "bytes=0-9,5-7",
                                    "bytes=" + "0" * 5000 + "1-2"])
def test_ranges_with_huge_numbers_are_refused_cleanly(client, header):
    hit = _image_hit(client)
    response = client.get(hit["media_url"], headers={"Range": header})
    assert response.status_code in (400, 416, 206), response.text
    if response.status_code != 206:
        assert response.json()["error"]["code"] in ("invalid_input", "range_not_satisfiable")
        assert len(response.json()["error"]["message"]) < 500


def test_symlinks_out_of_the_folder_are_neither_indexed_nor_served(client, indexed):
    engine, root, outside = indexed
    texts = client.get("/api/search", params={"q": "launch codes mattress", "modality": "text", "k": 50}).json()["hits"]
    assert [h["name"] for h in texts] == ["note.md"]
    assert all("root:" not in (h["text"] or "") for h in texts)  # /etc/passwd's lines
    assert sorted(engine.repo.files()) == sorted(str(root / n) for n in ("a.png", "b.png", "note.md"))


def test_a_file_swapped_for_a_symlink_out_of_the_folder_is_not_served(client, indexed):
    _, root, outside = indexed
    hit = _image_hit(client)
    assert client.get(hit["thumbnail_url"]).status_code == 200  # cached now
    target = outside / "a.png"
    os.replace(root / "a.png", target)
    os.symlink(target, root / "a.png")  # same bytes, same size and mtime, but outside
    assert_error(client.get(hit["media_url"]), 404, "not_found")
    assert_error(client.get(hit["thumbnail_url"]), 404, "not_found")
    assert client.head(hit["media_url"]).status_code == 404


def test_a_file_that_changed_since_indexing_is_not_served(client, indexed):
    engine, root, _ = indexed
    hit = _image_hit(client, "b.png")
    path = root / "b.png"
    st = path.stat()
    # the indexer records the file's identity (device, inode) along with size and mtime
    engine.repo.touch_file(engine.repo.files()[str(path)].id, size=st.st_size, mtime_ns=st.st_mtime_ns,
                           device=st.st_dev, inode=st.st_ino)
    assert client.get(hit["media_url"]).status_code == 200
    data = path.read_bytes()
    other = root / "b.png.new"
    other.write_bytes(data)  # another file (a new inode while the old one exists) ...
    os.utime(other, ns=(st.st_atime_ns, st.st_mtime_ns))  # ... same content, size and times
    os.replace(other, path)
    assert path.stat().st_ino != st.st_ino
    assert_error(client.get(hit["media_url"]), 404, "not_found")
    path.write_bytes(data + b"x")
    assert_error(client.get(hit["media_url"]), 404, "not_found")


def test_names_that_are_not_utf8_are_shown_escaped_and_served(open_engine, tmp_path):
    root = tmp_path / "names"
    root.mkdir()
    raw = os.path.join(os.fsencode(root), b"bad\xff\xfename.png")
    make_image(tmp_path / "src.png", seed=9)
    os.rename(tmp_path / "src.png", raw)
    (root / "line\nbreak.md").write_text("a note whose name has a newline")
    engine = open_engine("names")
    report = engine.index([root])
    assert report.failed == 0, report.failures
    client = TestClient(create_app(engine), base_url=LOCAL)
    hits = client.get("/api/search", params={"q": "x", "k": 10}).json()["hits"]
    names = sorted(h["name"] for h in hits)
    assert names == ["bad\\xff\\xfename.png", "line\\nbreak.md"]
    image = next(h for h in hits if h["modality"] == "image")
    assert image["path"] == str(root) + "/bad\\xff\\xfename.png"
    served = client.get(image["media_url"])
    assert served.status_code == 200 and served.content == open(raw, "rb").read()
    assert client.get(image["thumbnail_url"]).status_code == 200
    assert client.get(f"/api/items/{image['id']}").json()["name"] == "bad\\xff\\xfename.png"
