"""Whether a path lies under a folder, by its name (symlinked folders count as inside)."""

from __future__ import annotations

import os


def is_under(path: str, root: str) -> bool:
    """``path`` is ``root`` or inside it, comparing normalised absolute names."""
    path, root = os.path.normpath(path), os.path.normpath(root)
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)
