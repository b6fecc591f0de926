"""When and where (issue 22): the date a photo was taken (EXIF DateTimeOriginal with its
offset) is its date for --after/--before, the modification time otherwise; its GPS position
names the nearest town offline (English and Chinese), found by words and by --place; its
camera by --camera; an index from before reads them once without embedding photos again.
The photos are the project's samples with EXIF written over them here."""

from __future__ import annotations

import os
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest
from PIL import Image

from conftest import SAMPLES
from searchengine.media.photo_facts import exif_time, read_photo_facts
from searchengine.media.places import nearest_place
from searchengine.query.filters import SearchFilters

# neutral names, as cameras give them: a place must be found by the GPS, not by the file name
SPOTS = {  # file -> (sample photo, lat, lon, taken, offset, camera); 1001 Paris, 1002 Kyoto, 1003 Hangzhou, 1004 Austin
    "IMG_1001.jpg": ("coffee.png", 48.8584, 2.2945, "2018:04:02 10:00:00", "+02:00", ("Apple", "iPhone 12")),
    "IMG_1002.jpg": ("horse.png", 35.0116, 135.7681, "2019:07:14 18:30:00", "+09:00", ("Canon", "Canon EOS R5")),
    "IMG_1003.jpg": ("astronaut.png", 30.2590, 120.1300, "2021:03:20 08:15:00", "+08:00", ("Xiaomi", "Mi 11")),
    "IMG_1004.jpg": ("rocket.jpg", 30.2672, -97.7431, "2023:11:05 12:00:00", "-06:00", ("NIKON CORPORATION", "NIKON Z 6")),
}
MODIFIED = datetime(2025, 6, 1, tzinfo=timezone.utc).timestamp()  # every file's mtime: not the date taken


def _dms(value: float) -> tuple[float, float, float]:
    value = abs(value)
    d = int(value)
    m = int((value - d) * 60)
    return float(d), float(m), round((value - d - m / 60) * 3600, 2)


def tagged_photo(target: Path, source: str, lat: float, lon: float, taken: str, offset: str,
                 camera: tuple[str, str]) -> Path:
    img = Image.open(SAMPLES / "images" / source).convert("RGB")
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = camera
    exif[0x8769] = {0x9003: taken, 0x9011: offset}
    exif[0x8825] = {1: "N" if lat >= 0 else "S", 2: _dms(lat), 3: "E" if lon >= 0 else "W", 4: _dms(lon)}
    img.save(target, exif=exif)
    os.utime(target, (MODIFIED, MODIFIED))
    return target


def test_exif_time_with_and_without_its_offset():
    assert exif_time("2019:07:14 18:30:00", "+09:00") == int(datetime(2019, 7, 14, 9, 30, tzinfo=timezone.utc).timestamp()) * 10**9
    assert exif_time("2019:07:14 18:30:00") == int(datetime(2019, 7, 14, 18, 30, tzinfo=timezone.utc).timestamp()) * 10**9
    assert exif_time("0000:00:00 00:00:00") is None and exif_time("") is None and exif_time(None) is None


def test_nearest_place_in_english_and_chinese():
    assert nearest_place(35.0116, 135.7681).text() == "Kyoto, Japan (京都, 日本)"
    assert nearest_place(30.2590, 120.1300).text() == "Hangzhou, Zhejiang, China (杭州, 中国)"
    paris = nearest_place(48.8584, 2.2945)  # the Eiffel tower: in a district, named as the city
    assert (paris.city, paris.city_zh, paris.country, paris.country_zh) == ("Paris", "巴黎", "France", "法国")
    assert nearest_place(30.2672, -97.7431).region == "Texas"
    # regions outside the US (GeoNames admin1, searchengine/media/data/regions.json)
    assert paris.region == "Île-de-France" and paris.label() == "Paris, Île-de-France, France"
    assert nearest_place(48.137, 11.575).label() == "Munich, Bavaria, Germany"
    assert nearest_place(43.06, 141.35).label() == "Sapporo, Hokkaido, Japan"
    assert nearest_place(-33.87, 151.21).region == "New South Wales"
    assert nearest_place(35.0116, 135.7681).region == "Kyoto"  # named once in the label
    assert nearest_place(0.0, -30.0) is None  # mid-Atlantic: nowhere


def test_photo_facts_are_read_from_the_header(tmp_path):
    path = tagged_photo(tmp_path / "k.jpg", *SPOTS["IMG_1002.jpg"])
    facts = read_photo_facts(path)
    assert facts.camera == "Canon EOS R5" and abs(facts.latitude - 35.0116) < 1e-3 and abs(facts.longitude - 135.7681) < 1e-3
    plain = tmp_path / "plain.png"
    shutil.copy(SAMPLES / "images" / "coins.png", plain)
    assert not read_photo_facts(plain)


def test_a_videos_creation_time_is_its_date(tmp_path):
    from video_maker import make_video

    from searchengine.media.photo_facts import video_taken

    dated = make_video(tmp_path / "clip.mp4", [(0.5, 1)], metadata={"creation_time": "2020-08-09T10:11:12.000000Z"})
    assert video_taken(dated) == int(datetime(2020, 8, 9, 10, 11, 12, tzinfo=timezone.utc).timestamp()) * 10**9
    assert video_taken(make_video(tmp_path / "plain.mp4", [(0.5, 2)])) is None


@pytest.fixture(scope="module")
def photos_engine(offline_settings, tmp_path_factory):
    from searchengine import SearchEngine

    folder = tmp_path_factory.mktemp("trips")
    for name, spot in SPOTS.items():
        tagged_photo(folder / name, *spot)
    for name in ("chelsea.png", "camera.png"):  # no EXIF: dated by their mtime
        shutil.copy(SAMPLES / "images" / name, folder / name)
    old = datetime(2017, 1, 1, tzinfo=timezone.utc).timestamp()
    os.utime(folder / "chelsea.png", (old, old))
    engine = SearchEngine.open("trips", settings=offline_settings)
    report = engine.index([folder])
    assert report.failed == 0, report.failures
    yield engine, folder
    engine.close()


@pytest.mark.parametrize("query,name", [("Paris", "IMG_1001.jpg"), ("Kyoto", "IMG_1002.jpg"), ("杭州", "IMG_1003.jpg"),
                                        ("photos from Japan", "IMG_1002.jpg"), ("京都的照片", "IMG_1002.jpg"),
                                        ("Zhejiang", "IMG_1003.jpg"), ("photos from Île-de-France", "IMG_1001.jpg")])
def test_gps_tagged_photos_are_found_first_by_their_place(photos_engine, query, name):
    engine, folder = photos_engine
    assert engine.search(query, k=3)[0].path == str(folder / name)


def test_place_and_camera_filters(photos_engine):
    engine, folder = photos_engine
    by_place = {Path(h.path).name for h in engine.search("a photo", k=20, filters=SearchFilters.of(place="japan"))}
    assert by_place == {"IMG_1002.jpg"}
    assert {Path(h.path).name for h in engine.search("a photo", k=20, filters=SearchFilters.of(place="中国"))} == {"IMG_1003.jpg"}
    assert {Path(h.path).name for h in engine.search("a photo", k=20, filters=SearchFilters.of(place="zhejiang"))} == {"IMG_1003.jpg"}
    by_camera = {Path(h.path).name for h in engine.search("a photo", k=20, filters=SearchFilters.of(camera="nikon z"))}
    assert by_camera == {"IMG_1004.jpg"}


def test_dates_taken_win_over_modification_times(photos_engine):
    engine, folder = photos_engine

    def names(after=None, before=None):
        f = SearchFilters.of(modified_after=after, modified_before=before)
        return {Path(h.path).name for h in engine.search("a photo", k=20, filters=f)}

    # every tagged photo was modified in 2025; taken 2018-2023
    assert names(before=datetime(2020, 1, 1)) == {"IMG_1001.jpg", "IMG_1002.jpg", "chelsea.png"}
    assert names(after=datetime(2020, 1, 1), before=datetime(2024, 1, 1)) == {"IMG_1003.jpg", "IMG_1004.jpg"}
    assert names(after=datetime(2024, 1, 1)) == {"camera.png"}  # no EXIF: its mtime (today)
    # the offset counts: taken 18:30 in Kyoto is 09:30 UTC
    assert names(after=datetime(2019, 7, 14, 9, 0), before=datetime(2019, 7, 14, 10, 0)) == {"IMG_1002.jpg"}


def test_the_cli_and_http_say_which_date_and_where(photos_engine, offline_settings):
    import json

    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from searchengine.cli import app as cli_app
    from searchengine.http.app import create_app

    engine, folder = photos_engine
    args = ["search", "Kyoto", "--index", "trips", "--k", "1", "--index-root", str(offline_settings.index_root),
            "--place", "Japan"]
    out = CliRunner().invoke(cli_app, args, env={"COLUMNS": "300"})
    assert out.exit_code == 0, out.output
    assert "IMG_1002.jpg" in out.output and "taken 2019-07-14 09:30" in out.output and "Kyoto, Japan" in out.output
    assert "Canon EOS R5" in out.output
    row = json.loads(CliRunner().invoke(cli_app, args + ["--json"]).output)[0]
    assert row["date_source"] == "taken" and row["date"].startswith("2019-07-14T09:30") and row["place"].startswith("Kyoto")
    client = TestClient(create_app(engine), base_url="http://127.0.0.1")
    hits = client.get("/api/search", params={"q": "a photo", "k": 20, "camera": "canon"}).json()["hits"]
    assert {h["name"] for h in hits} == {"IMG_1002.jpg"} and hits[0]["date_source"] == "taken"
    plain = client.get("/api/search", params={"q": "a cat", "k": 1, "modality": "image"}).json()["hits"][0]
    assert plain["name"] == "chelsea.png" and plain["date_source"] == "modified" and plain["date"].startswith("2017-01-01")


def test_an_index_from_before_reads_dates_and_places_once_without_embedding_photos(offline_settings, tmp_path,
                                                                                    monkeypatch):
    import sqlite3

    from searchengine import SearchEngine
    from searchengine.pipeline import decode, facts

    folder = tmp_path / "old"
    folder.mkdir()
    tagged_photo(folder / "IMG_1002.jpg", *SPOTS["IMG_1002.jpg"])
    settings = offline_settings.with_(index_root=tmp_path / "indexes")
    with monkeypatch.context() as m:  # indexed as before revision 0008: no facts read
        m.setattr(decode, "photo_facts", lambda path: (None, None))
        m.setattr(facts, "fill_facts", lambda *a, **k: 0)
        with SearchEngine.open("old", settings=settings) as engine:
            engine.index([folder])
    db = tmp_path / "indexes" / "old" / "metadata.sqlite"
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT facts, taken_ns, place FROM media_files").fetchall() == [(0, None, None)]
        (before,) = c.execute("SELECT vector FROM units WHERE kind = 'image'").fetchone()
    with SearchEngine.open("old", settings=settings) as engine:
        report = engine.index()
        assert report.added == report.updated == 0  # nothing re-embedded
        hit = engine.search("Kyoto", k=1)[0]
        assert (hit.kind, hit.text) == ("place", "Kyoto, Japan (京都, 日本)")
        assert engine.search("a photo", k=5, filters=SearchFilters.of(place="Kyoto"))
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT facts, place FROM media_files").fetchall() == [(1, "Kyoto, Japan (京都, 日本)")]
        assert c.execute("SELECT vector FROM units WHERE kind = 'image'").fetchone()[0] == before
        assert c.execute("SELECT count(*) FROM units WHERE kind = 'place'").fetchone()[0] == 1
    with SearchEngine.open("old", settings=settings) as engine:  # once: nothing left to read
        from searchengine.pipeline.facts import fill_facts

        assert fill_facts(engine.catalog, lambda: engine.encoder) == 0
