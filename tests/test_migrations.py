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
