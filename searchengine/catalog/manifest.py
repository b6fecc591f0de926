"""The index manifest: which model, dimension, metric, index type and schema wrote an index,
and with which library versions. Checked on open."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from searchengine.catalog.atomic_files import atomic_write_bytes
from searchengine.errors import IndexDamagedError, IndexIncompatibleError

MANIFEST_FORMAT = 1
_LIBRARIES = ("searchengine", "faiss-gpu", "faiss-cpu", "open_clip_torch", "torch", "sqlalchemy", "numpy")


def library_versions() -> dict[str, str]:
    from importlib import metadata  # 30 ms to import: only when a manifest is written

    out = {}
    for name in _LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


@dataclass
class Manifest:
    model: str
    dim: int
    metric: str
    index_type: str
    schema_revision: str
    precision: str = "fp32"  # what the encoder ran at; indexes from before 0.2 were fp32
    index_policy: str = "auto"  # auto: the FAISS kind follows the size; else the kind asked for
    index: dict = field(default_factory=dict)  # the FAISS kind built last (IndexKind.to_json)
    format: int = MANIFEST_FORMAT
    created_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat())
    libraries: dict[str, str] = field(default_factory=library_versions)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    def save(self, path: Path) -> None:
        atomic_write_bytes(path, self.to_json().encode())

    @classmethod
    def load(cls, path: Path) -> "Manifest | None":
        if not path.is_file():
            return None
        try:
            text = path.read_text()
        except OSError as exc:
            raise IndexDamagedError(f"the index manifest {path} cannot be read ({exc})") from exc
        return cls.parse(text, str(path))

    @classmethod
    def parse(cls, text: str, where: str) -> "Manifest":
        """A manifest from its JSON; ``where`` names its origin in errors."""
        path = where
        try:
            data = json.loads(text)
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            fmt = int(data.get("format", 1))
            if fmt > MANIFEST_FORMAT:
                raise IndexIncompatibleError(
                    f"{path} was written by a newer searchengine (manifest format {fmt}); "
                    "upgrade searchengine to open it"
                )
            return cls(
                model=data["model"],
                dim=int(data["dim"]),
                metric=data["metric"],
                index_type=data["index_type"],
                schema_revision=data["schema_revision"],
                precision=str(data.get("precision", "fp32")),
                index_policy=str(data.get("index_policy", "auto")),
                index=dict(data.get("index") or {}),
                format=fmt,
                created_at=data.get("created_at", ""),
                libraries=dict(data.get("libraries", {})),
            )
        except IndexIncompatibleError:
            raise
        except (ValueError, KeyError, TypeError, OSError) as exc:
            raise IndexDamagedError(
                f"the index manifest {path} is damaged ({exc}); restore it, or delete the index "
                "folder and index again"
            ) from exc
