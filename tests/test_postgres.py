"""PostgreSQL by URL and search from several machines, on a real PostgreSQL 15 server: the
advisory write lock across processes, replicas (another folder = another machine's FAISS file)
caught up by the generation, two HTTP services answering alike, names that are not UTF-8, and
clear errors for a bad or unreachable ``--database-url``."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from conftest import assert_consistent, make_image
from searchengine import IndexBusyError, IndexUnavailableError, InvalidInputError, SearchEngine, Settings
from searchengine.cli import app
from searchengine.http.app import create_app
from searchengine.vectors.faiss_index import read_stamp

LOCAL = "http://127.0.0.1:8000"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def pg_settings(settings, pg_url):
    return settings.with_(database_url=pg_url)


@pytest.fixture
def media(tmp_path):
    root = tmp_path / "media"
    for i in range(5):
        make_image(root / f"photo{i}.png", seed=i)
    (root / "note.txt").write_text("The harbour crane lifted container MSKU-4471 at dawn.")
    return root


def _machine(pg_settings, tmp_path, name: str) -> SearchEngine:
    """An engine with its own index folder (its own FAISS file): another machine."""
    return SearchEngine.open(tmp_path / name, settings=pg_settings)


def test_a_replica_on_another_folder_sees_the_writers_changes(pg_settings, tmp_path, media):
    writer = _machine(pg_settings, tmp_path, "machine-a")
    writer.index([media])
    replica = _machine(pg_settings, tmp_path, "machine-b")  # no FAISS file, no manifest: both from SQL
    try:
        assert (tmp_path / "machine-b" / "manifest.json").is_file()
        assert [h.id for h in replica.search("container", k=4)] == [h.id for h in writer.search("container", k=4)]
        assert_consistent(replica)
        assert not replica.layout.vectors.exists()  # built in memory: a search writes nothing
        replica.reindex()  # the explicit step that saves this machine's file
        stamp_b = read_stamp(replica.layout.vectors)
        assert stamp_b and stamp_b["source"] == read_stamp(writer.layout.vectors)["source"]

        make_image(media / "photo9.png", seed=99)
        (media / "photo0.png").unlink()
        writer.index([media])
        time.sleep(1.1)  # a reader checks the generation at most once a second
        top = replica.search(image=media / "photo9.png", k=1)[0]
        assert top.path == str(media / "photo9.png") and top.score == pytest.approx(1.0, abs=1e-4)
        assert all(h.path != str(media / "photo0.png") for h in replica.search("x", k=50))
        assert replica.catalog.generation == writer.catalog.generation
        assert_consistent(replica)
    finally:
        replica.close()
        writer.close()


def test_a_replica_opened_to_read_makes_no_folder_until_a_writer_step(pg_settings, tmp_path, media):
    with _machine(pg_settings, tmp_path, "indexer") as writer:
        writer.index([media])
        expected = [h.id for h in writer.search("container", k=4)]
        folder = tmp_path / "reader-only"
        with SearchEngine.open(folder, settings=pg_settings, create=False) as reader:  # as `searchengine search`
            assert [h.id for h in reader.search("container", k=4)] == expected
            assert reader.status().vectors == reader.repo.unit_count() > 0
        assert not folder.exists()  # the manifest came from SQL, the vectors were built in memory
        with SearchEngine.open(folder, settings=pg_settings, create=False) as replica, writer.catalog.write_lock():
            # the explicit step (`searchengine reindex` on this machine) saves its file, under the
            # folder's lock alone: an indexer holding the database's lock elsewhere does not stop it
            replica.reindex()
            assert read_stamp(replica.layout.vectors)["generation"] == replica.repo.generation()
            with pytest.raises(IndexBusyError):
                replica.index([media])  # a real write still waits for the database's lock
    with SearchEngine.open(folder, settings=pg_settings, create=False) as reader:
        assert [h.id for h in reader.search("container", k=4)] == expected
        assert reader.catalog.last_build is None  # mapped, not built again


def test_a_faiss_file_from_another_database_is_rebuilt_not_caught_up(pg_settings, pg_server, tmp_path, media):
    with _machine(pg_settings, tmp_path, "a") as first:
        first.index([media])
    other_url = pg_server.create_database()
    try:
        # the same folder pointed at another database holding other items
        other = pg_settings.with_(database_url=other_url)
        make_image(tmp_path / "elsewhere" / "only.png", seed=50)
        with SearchEngine.open(tmp_path / "b", settings=other) as seeded:
            seeded.index([tmp_path / "elsewhere"])
        for name in ("vectors.faiss", "vectors.faiss.stamp.json"):
            (tmp_path / "b" / name).write_bytes((tmp_path / "a" / name).read_bytes())
        with SearchEngine.open(tmp_path / "b", settings=other) as reopened:
            assert [h.path for h in reopened.search("x", k=10)] == [str(tmp_path / "elsewhere" / "only.png")]
            assert_consistent(reopened)
    finally:
        pg_server.drop_database(other_url)


def test_two_services_on_one_database_answer_alike(pg_settings, tmp_path, media):
    writer = _machine(pg_settings, tmp_path, "indexer")
    writer.index([media])
    one, two = _machine(pg_settings, tmp_path, "web-1"), _machine(pg_settings, tmp_path, "web-2")
    try:
        c1, c2 = (TestClient(create_app(e), base_url=LOCAL) for e in (one, two))
        for params in ({"q": "container MSKU-4471"}, {"q": "MSKU-4471", "mode": "keyword"},
                       {"q": "a photo", "mode": "vector", "k": 3}):
            r1, r2 = c1.get("/api/search", params=params), c2.get("/api/search", params=params)
            assert r1.status_code == r2.status_code == 200, (r1.text, r2.text)
            h1, h2 = r1.json()["hits"], r2.json()["hits"]
            assert h1 and [(h["id"], round(h["score"], 5)) for h in h1] == [(h["id"], round(h["score"], 5)) for h in h2]
        (media / "note.txt").write_text("The harbour crane now lifts container TGHU-9920.")
        writer.index([media])
        time.sleep(1.1)
        for c in (c1, c2):
            hits = c.get("/api/search", params={"q": "TGHU-9920", "mode": "keyword"}).json()["hits"]
            assert [h["name"] for h in hits] == ["note.txt"]
            assert c.get("/api/search", params={"q": "MSKU-4471", "mode": "keyword"}).json()["hits"] == []
    finally:
        one.close()
        two.close()
        writer.close()


_HOLDER = """
import sys, time
from pathlib import Path
from searchengine import SearchEngine, Settings
s = Settings(index_root=Path(sys.argv[1]), model=sys.argv[2], database_url=sys.argv[3])
with SearchEngine.open(Path(sys.argv[1]) / "holder", settings=s) as e, e.catalog.write_lock():
    print("locked", flush=True)
    sys.stdin.read()  # until the parent closes it
"""


def test_the_write_lock_holds_across_processes_and_machines(pg_settings, tmp_path, media, tiny_clip):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(tmp_path), tiny_clip, pg_settings.database_url],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        # a replica searches while another machine holds the database's write lock, and
        # writes nothing
        with _machine(pg_settings, tmp_path, "reader") as reader:
            assert reader.search("x", k=3) == [] and not reader.layout.vectors.exists()
        with _machine(pg_settings, tmp_path, "other") as other:  # another folder: another machine
            with pytest.raises(IndexBusyError, match="another process"):
                other.index([media])
            assert holder.stdin is not None
            holder.stdin.close()
            holder.wait(timeout=60)
            assert other.index([media]).added == 6  # released when the holder ended
    finally:
        if holder.poll() is None:
            holder.kill()


def test_writers_on_two_machines_never_interleave(pg_settings, tmp_path, media):
    """Two engines (own folders, own connections) write in a loop; inside the lock the
    generation moves only by the holder's own writes."""
    from searchengine.store.repository import FileWrite, NewUnit
    import numpy as np

    engines = [_machine(pg_settings, tmp_path, f"m{i}") for i in range(2)]
    engines[0].index([media])
    dim = engines[0].vectors.dim
    for e in engines[1:]:
        e.vectors  # noqa: B018 - load the replica
    seen: list[str] = []
    errors: list[BaseException] = []

    def work(i: int) -> None:
        e = engines[i]
        done, rng = 0, np.random.default_rng(i)
        try:
            while done < 6:
                try:
                    with e.catalog.write_lock():
                        e.catalog.sync(force=True)
                        start = e.repo.generation()
                        for j in range(2):
                            v = rng.standard_normal(dim).astype(np.float32)
                            e.catalog.store_files([FileWrite(path=f"/m{i}/f{done}-{j}", modality="image",
                                                             content_hash="h", size=1, mtime_ns=1,
                                                             units=[NewUnit(None, None, None, v / np.linalg.norm(v))])])
                            time.sleep(0.01)
                        assert e.repo.generation() == start + 2, "another writer got in"
                        seen.append(f"m{i}")
                        done += 1
                except IndexBusyError:
                    time.sleep(0.005)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    try:
        assert not errors, errors
        assert sorted(seen) == ["m0"] * 6 + ["m1"] * 6
        for e in engines:
            e.catalog.sync(force=True)
            assert_consistent(e)
    finally:
        for e in engines:
            e.close()


def test_names_that_are_not_utf8_round_trip(pg_settings, tmp_path):
    media = tmp_path / "media"
    media.mkdir()
    odd = os.fsdecode(b"caf\xe9 \xff.png")
    make_image(media / odd, seed=3)
    make_image(media / "plain \U0010ffff.png", seed=4)  # holds the escape character itself
    with _machine(pg_settings, tmp_path, "a") as engine:
        report = engine.index([media])
        assert report.added == 2 and report.failed == 0
        paths = {h.path for h in engine.search("x", k=10)}
        assert paths == {str(media / odd), str(media / "plain \U0010ffff.png")}
        assert engine.index([media]).unchanged == 2
        assert [h.path for h in engine.search("x", k=10, path_glob="caf*")] == [str(media / odd)]


def test_bad_or_unreachable_urls_are_clear_errors(settings, tmp_path):
    with pytest.raises(InvalidInputError, match="--database-url"):
        settings.with_(database_url="mysql://u@h/db")
    with pytest.raises(InvalidInputError, match="--database-url"):
        Settings(database_url="not a url")
    assert Settings(database_url="postgresql://u@h/db").database_url == "postgresql+psycopg://u@h/db"
    assert Settings(database_url="").database_url is None
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nobody listens there once closed
    down = settings.with_(database_url=f"postgresql+psycopg://u:secret@127.0.0.1:{port}/db")
    with pytest.raises(IndexUnavailableError, match="--database-url") as err:
        SearchEngine.open("x", settings=down)
    assert "secret" not in str(err.value)
    result = CliRunner().invoke(app, ["status", "--index", str(tmp_path / "x"), "--database-url",
                                      f"postgresql://u@127.0.0.1:{port}/db"])
    assert result.exit_code == 3 and "--database-url" in result.output


def test_cli_index_and_search_with_a_database_url(pg_settings, tmp_path, media, monkeypatch):
    monkeypatch.setenv("SEARCHENGINE_MODEL", pg_settings.model)
    runner = CliRunner()
    url = pg_settings.database_url
    done = runner.invoke(app, ["index", str(media), "--index", str(tmp_path / "a"), "--database-url", url])
    assert done.exit_code == 0, done.output
    monkeypatch.setenv("SEARCHENGINE_DATABASE_URL", url)  # the env var works as well as the flag
    found = runner.invoke(app, ["search", "MSKU-4471", "--mode", "keyword", "--json", "--index", str(tmp_path / "b")])
    assert found.exit_code == 0, found.output
    assert '"note.txt"' in found.output or "note.txt" in found.output


def test_shards_merge_to_the_unsharded_answer(pg_settings, tmp_path):
    import numpy as np

    from searchengine.catalog.manifest import Manifest
    from searchengine.catalog.shards import ShardedSearch
    from searchengine.store.database import head_revision
    from searchengine.store.repository import FileWrite, NewUnit

    d, rng = 32, np.random.default_rng(0)

    def vectors(n: int) -> np.ndarray:
        x = rng.standard_normal((n, d)).astype(np.float32)
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    def writes(start: int, n: int) -> list[FileWrite]:
        return [FileWrite(path=f"/data/f{start + i:04d}.png", modality="image", content_hash=f"h{start + i}",
                          size=1, mtime_ns=1, units=[NewUnit(None, None, None, v)])
                for i, v in enumerate(vectors(n))]

    writer = _machine(pg_settings, tmp_path, "writer")
    writer._manifest = Manifest(model=writer.model, dim=d, metric="inner_product", index_type="flat",
                                schema_revision=head_revision(), precision="fp32")
    writer._save_manifest()
    with writer.catalog.write_lock():
        writer.catalog.store_files(writes(0, 300))
        writer.catalog.save()
    shards = [SearchEngine.open(tmp_path / f"shard{s}", settings=pg_settings, shard=(s, 3)) for s in range(3)]
    sharded = ShardedSearch(shards)
    try:
        held = [set(int(i) for i in e.vectors.ids()) for e in shards]
        assert sum(map(len, held)) == 300 and not (held[0] & held[1] or held[1] & held[2] or held[0] & held[2])
        assert all(i % 3 == s for s, ids in enumerate(held) for i in ids)

        def agree() -> None:
            for q in vectors(10):
                for k, offset in ((10, 0), (5, 5)):
                    want = [(h.id, round(h.score, 5)) for h in writer.search_vector(q, k=k, offset=offset)]
                    got = [(h.id, round(h.score, 5)) for h in sharded.search_vector(q, k=k, offset=offset)]
                    assert got == want

        agree()
        with writer.catalog.write_lock():  # shards catch up from the change log, filtered
            writer.catalog.store_files(writes(300, 50))
            writer.catalog.delete_files([r.id for r in list(writer.repo.files().values())[:20]])
            writer.catalog.save()
        for e in shards:
            e.catalog.sync(force=True)
        assert sum(e.catalog.count() for e in shards) == writer.catalog.count() == 330
        agree()
        with pytest.raises(InvalidInputError, match="shard"):
            shards[0].forget("/data")
        assert not shards[0].layout.vectors.exists()  # searched from memory: nothing written
        shards[0].reindex()  # a shard's own file, saved by the explicit step
        assert read_stamp(shards[0].layout.vectors)["source"].endswith("/shard-0-of-3")
        assert sorted(shards[0].vectors.ids()) == sorted(i for i in writer.vectors.ids() if i % 3 == 0)
        with pytest.raises(InvalidInputError, match="shard"):
            shards[0].reindex("flat")  # another policy changes the index for every machine
        with pytest.raises(InvalidInputError, match="--database-url"):
            SearchEngine.open(tmp_path / "x", settings=pg_settings.with_(database_url=None), shard=(0, 2))
    finally:
        sharded.close()
        for e in shards:
            e.close()
        writer.close()


def test_a_phrase_finds_its_words_run_together_on_postgresql(pg_settings, tmp_path):
    """The quoted phrase is also looked for with its spaces left out (ILIKE on the trigram
    indexes), and the exact test cuts the joined token into words."""
    root = tmp_path / "notes"
    root.mkdir()
    (root / "joined.txt").write_text("Day four: the desert caravanroute crosses the dunes.")
    (root / "apart.txt").write_text("A caravan park by the route to the sea.")
    with SearchEngine.open(tmp_path / "idx", settings=pg_settings) as engine:
        engine.index([root])
        hits = engine.search('"caravan route"', k=5, mode="keyword")
        assert [h.path.rsplit("/", 1)[-1] for h in hits] == ["joined.txt"]
        assert {h.path.rsplit("/", 1)[-1] for h in engine.search("caravan route", k=5, mode="keyword")} \
            == {"joined.txt", "apart.txt"}
        assert engine.search("van", k=5, mode="keyword") == []
