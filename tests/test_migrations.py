"""The schema is owned by Alembic: upgrade to head, then `alembic check` finds no drift."""

from pathlib import Path

from alembic import command
from alembic.config import Config

ROOT = Path(__file__).resolve().parents[1]


def _config(url: str) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.cmd_opts = type("Opts", (), {"x": [f"url={url}"]})()
    return cfg


def test_upgrade_head_then_check_has_no_drift(tmp_path):
    cfg = _config(f"sqlite:///{tmp_path / 'm.sqlite'}")
    command.upgrade(cfg, "head")
    command.check(cfg)  # raises if the models and the migrations disagree


def test_postgresql_upgrade_head_check_downgrade_and_back(pg_url):
    """The same migrations on PostgreSQL: no drift from the models, and down and up again."""
    from sqlalchemy import create_engine, text

    cfg = _config(pg_url)
    command.upgrade(cfg, "head")
    command.check(cfg)
    db = create_engine(pg_url)
    try:
        with db.connect() as c:  # the keyword table's trigram indexes (pg_trgm is trusted)
            indexes = set(c.execute(text("SELECT indexname FROM pg_indexes WHERE tablename = 'units_fts'")).scalars())
        assert {"ix_units_fts_text_trgm", "ix_units_fts_name_trgm"} <= indexes
    finally:
        db.dispose()
    command.downgrade(cfg, "base")
    command.upgrade(cfg, "head")
    command.check(cfg)


def test_downgrade_to_base_and_back(tmp_path):
    cfg = _config(f"sqlite:///{tmp_path / 'm.sqlite'}")
    command.upgrade(cfg, "head")
    command.downgrade(cfg, "base")
    command.upgrade(cfg, "head")
    command.check(cfg)


def test_an_index_at_an_older_revision_is_upgraded_on_open(tmp_path, settings):
    import sqlite3

    from searchengine import SearchEngine
    from searchengine.store.database import head_revision

    folder = tmp_path / "old"
    folder.mkdir()
    command.upgrade(_config(f"sqlite:///{folder / 'metadata.sqlite'}"), "0001")
    with SearchEngine.open(folder, settings=settings) as engine:
        assert engine.status().schema_revision == head_revision() == "0009"
    with sqlite3.connect(folder / "metadata.sqlite") as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchone()[0] == "0009"
        db.execute("SELECT count(*) FROM removed_units").fetchone()
        db.execute("SELECT count(*) FROM units_fts").fetchone()
        db.execute("SELECT count(*) FROM transcripts").fetchone()
        db.execute("SELECT device, inode FROM media_files").fetchall()
        db.execute("SELECT kind, box FROM units").fetchall()
        db.execute("SELECT count(*) FROM image_texts").fetchone()
        db.execute("SELECT page FROM units").fetchall()
        db.execute("SELECT taken_ns, latitude, longitude, place, camera, facts FROM media_files").fetchall()
        db.execute("SELECT scores FROM units").fetchall()


def test_units_from_before_0006_get_their_modalitys_kind(tmp_path):
    import sqlite3

    url = f"sqlite:///{tmp_path / 'metadata.sqlite'}"
    command.upgrade(_config(url), "0005")
    with sqlite3.connect(tmp_path / "metadata.sqlite") as db:
        for fid, modality in ((1, "image"), (2, "text"), (3, "audio")):
            db.execute("INSERT INTO media_files (id, path, modality, content_hash, size, mtime_ns, status, indexed_at) "
                       "VALUES (?, ?, ?, '', 1, 1, 'indexed', '2026-01-01')", (fid, f"/f{fid}", modality))
            db.execute("INSERT INTO units (file_id, ordinal, vector) VALUES (?, 0, x'00')", (fid,))
    command.upgrade(_config(url), "head")
    with sqlite3.connect(tmp_path / "metadata.sqlite") as db:
        kinds = dict(db.execute("SELECT file_id, kind FROM units").fetchall())
    assert kinds == {1: "image", 2: "chunk", 3: "window"}


def test_units_from_before_0007_have_no_page_and_keep_their_rows(tmp_path):
    import sqlite3

    url = f"sqlite:///{tmp_path / 'metadata.sqlite'}"
    command.upgrade(_config(url), "0006")
    with sqlite3.connect(tmp_path / "metadata.sqlite") as db:
        db.execute("INSERT INTO media_files (id, path, modality, content_hash, size, mtime_ns, status, indexed_at) "
                   "VALUES (1, '/a.txt', 'text', '', 1, 1, 'indexed', '2026-01-01')")
        db.execute("INSERT INTO units (id, file_id, ordinal, text, kind, vector) VALUES (7, 1, 0, 'hi', 'chunk', x'00')")
    command.upgrade(_config(url), "head")
    with sqlite3.connect(tmp_path / "metadata.sqlite") as db:
        assert db.execute("SELECT id, text, kind, page FROM units").fetchall() == [(7, "hi", "chunk", None)]
        db.execute("UPDATE units SET page = 3")
    command.downgrade(_config(url), "0006")
    with sqlite3.connect(tmp_path / "metadata.sqlite") as db:
        assert db.execute("SELECT id, text FROM units").fetchall() == [(7, "hi")]


def test_head_revision_from_file_names_is_alembics():
    from searchengine.store.database import alembic_head_revision, head_revision

    assert head_revision() == alembic_head_revision()
