"""The evaluation manifest: JSON lines of ``{"path", "modality", "texts", ...}`` (see
docs/eval-manifest.md). Paths are relative to the manifest's folder."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from searchengine.errors import InvalidInputError

EVAL_MODALITIES = ("image", "audio")


@dataclass(frozen=True)
class EvalItem:
    line: int
    path: Path  # absolute
    modality: str
    texts: tuple[str, ...]
    label: str | None = None


def read_manifest(path: Path) -> list[EvalItem]:
    """Parse and check every line; a problem is an InvalidInputError naming file and line."""
    path = Path(path)
    if path.is_dir():
        raise InvalidInputError(f"manifest {path} is a folder; give the .jsonl file in it")
    if not path.is_file():
        raise InvalidInputError(f"manifest {path} does not exist")
    items: list[EvalItem] = []
    base = path.resolve().parent
    with open(path, "rb") as handle:
        for lineno, raw in enumerate(handle, 1):
            where = f"{path}:{lineno}"
            try:
                line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
            except UnicodeDecodeError:
                raise InvalidInputError(f"{where}: not valid UTF-8 text") from None
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidInputError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})") from None
            if not isinstance(row, dict):
                raise InvalidInputError(f"{where}: each line must be a JSON object")
            rel = row.get("path")
            if not isinstance(rel, str) or not rel.strip():
                raise InvalidInputError(f"{where}: 'path' must be a non-empty string")
            modality = row.get("modality")
            if modality not in EVAL_MODALITIES:
                raise InvalidInputError(f"{where}: 'modality' must be one of {', '.join(EVAL_MODALITIES)}, got {modality!r}")
            texts = row.get("texts")
            if not isinstance(texts, list) or not texts or not all(isinstance(t, str) and t.strip() for t in texts):
                raise InvalidInputError(f"{where}: 'texts' must be a non-empty list of non-empty strings")
            label = row.get("label")
            if label is not None and not isinstance(label, str):
                raise InvalidInputError(f"{where}: 'label' must be a string")
            items.append(EvalItem(lineno, (base / rel).resolve(), modality, tuple(t.strip() for t in texts), label))
    if not items:
        raise InvalidInputError(f"manifest {path} has no items")
    return items
