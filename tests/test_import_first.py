"""Every module of the package can be the first one a program imports: a fresh interpreter
imports it alone. An import circle through a package's ``__init__`` (the vector index needing
``catalog.atomic_files`` while the catalog package imported the vector index back) fails
here, not in whichever user's program happens to import that module first."""

from __future__ import annotations

import os
import pkgutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import searchengine

MODULES = sorted(m.name for m in pkgutil.walk_packages(searchengine.__path__, "searchengine.")
                 if not m.name.startswith("searchengine._migrations"))  # Alembic runs those


def _import_alone(name: str) -> tuple[str, str]:
    done = subprocess.run([sys.executable, "-c", f"import {name}"], capture_output=True, text=True, timeout=300)
    return name, "" if done.returncode == 0 else (done.stderr.strip().splitlines() or ["?"])[-1]


def test_every_module_imports_first_in_a_fresh_interpreter():
    assert "searchengine.vectors.faiss_index" in MODULES and len(MODULES) > 100
    with ThreadPoolExecutor(max(2, os.cpu_count() or 2)) as pool:
        failed = {name: error for name, error in pool.map(_import_alone, MODULES) if error}
    assert not failed, failed
