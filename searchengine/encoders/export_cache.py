"""Where exported ONNX graphs and derived constants live: one folder per model (and
weights), under the cache folder, written once, completely or not at all.

A folder is complete when its ``meta.json`` exists; it is built in a temporary folder beside
it and renamed into place, under a lock, so two processes never export the same model twice
and a crash leaves nothing half-written.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Callable

from searchengine.errors import ModelUnavailableError

log = logging.getLogger(__name__)

EXPORT_FORMAT = 4  # bump when the exported graphs or their meta change shape


def export_folder(cache_dir: Path | None, spec: str, identity: str = "") -> Path:
    """The folder for ``spec`` under ``cache_dir`` (default: the settings' cache folder);
    ``identity`` tells apart different weights behind one spec (a weights file's size and
    mtime)."""
    if cache_dir is None:
        from searchengine.config import Settings

        cache_dir = Settings.from_env().cache_dir
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", spec)[:60].strip("-")
    digest = hashlib.sha256(f"{EXPORT_FORMAT}|{spec}|{identity}".encode()).hexdigest()[:12]
    return Path(cache_dir).expanduser() / "onnx" / f"{slug}-{digest}"


def read_meta(folder: Path) -> dict | None:
    try:
        data = json.loads((folder / "meta.json").read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("format") == EXPORT_FORMAT else None


def build_once(folder: Path, build: Callable[[Path], dict]) -> dict:
    """The folder's meta, building it with ``build(tmp_folder) -> meta`` if it is missing.
    A model whose graphs cannot be exported comes back as ``{"onnx": False, "why_not": ...}``
    (see :func:`exported_or_why_not`), and runs on torch."""
    meta = read_meta(folder)
    if meta is not None:
        return meta
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        lock = open(folder.parent / f".{folder.name}.lock", "a+")
    except OSError as exc:
        raise ModelUnavailableError(
            f"cannot write exported models under {folder.parent}: {exc}; set SEARCHENGINE_CACHE_DIR "
            "to a writable folder"
        ) from exc
    with lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)  # another process may be exporting it now
        meta = read_meta(folder)
        if meta is not None:
            return meta
        for stale in folder.parent.glob(f".{folder.name}.*"):  # a killed export's leftovers
            if stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        try:
            log.warning("exporting %s to ONNX once (%s); later runs load it from there", folder.name, folder)
            try:
                meta = dict(build(tmp))
            except OSError as exc:  # a full disk, a read-only cache: say where and what to do
                raise ModelUnavailableError(
                    f"cannot write the ONNX export of {folder.name} under {folder.parent}: {exc}; free "
                    "space there or set SEARCHENGINE_CACHE_DIR to another folder"
                ) from exc
            meta["format"] = EXPORT_FORMAT
            (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
            if folder.exists():  # an incomplete leftover of an older run
                shutil.rmtree(folder)
            os.replace(tmp, folder)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return meta


def file_identity(*paths: Path) -> str:
    """Size and mtime of weight files, so replaced weights get a new export."""
    parts = []
    for p in paths:
        try:
            st = p.stat()
            parts.append(f"{p.name}:{st.st_size}:{st.st_mtime_ns}")
        except OSError:
            parts.append(f"{p.name}:missing")
    return ";".join(parts)


def exported_or_why_not(meta: dict, export: Callable[[], dict]) -> dict:
    """``meta`` updated by ``export()``; an export that fails (an operator ONNX has no
    symbolic for, a quantiser error) is recorded with its reason instead of stopping the
    run, so that the model runs on torch. Errors of the disk still propagate."""
    try:
        return {**meta, "onnx": True, **export()}
    except (OSError, ModelUnavailableError):
        raise
    except Exception as exc:  # noqa: BLE001 - the reason is kept in meta.json and logged
        log.warning("%s cannot be exported to ONNX (%s: %s); it runs on torch", meta.get("spec"),
                    type(exc).__name__, exc)
        return {**meta, "onnx": False, "why_not": f"ONNX export failed: {type(exc).__name__}: {exc}"}
