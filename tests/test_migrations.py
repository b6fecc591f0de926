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
        assert engine.status().schema_revision == head_revision() == "0005"
    with sqlite3.connect(folder / "metadata.sqlite") as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchone()[0] == "0005"
        db.execute("SELECT count(*) FROM removed_units").fetchone()
        db.execute("SELECT count(*) FROM units_fts").fetchone()
        db.execute("SELECT count(*) FROM transcripts").fetchone()
        db.execute("SELECT device, inode FROM media_files").fetchall()


def test_head_revision_from_file_names_is_alembics():
    from searchengine.store.database import alembic_head_revision, head_revision

    assert head_revision() == alembic_head_revision()
