"""Word error rate and speed of the packaged Whisper models on ../shared/data/ljspeech-dev.

    python benchmarks/asr_quality.py [--models base,tiny.en]

WER is corpus-level (total edits / total reference words) after lower-casing and dropping
punctuation; numbers are compared as spoken words are not normalised (e.g. "1455" vs
"fourteen fifty-five" counts as errors). Speed is seconds of audio per second of wall time.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from searchengine.evaluation.wer import word_edits, words
from searchengine.media.audio import SAMPLE_RATE, decode_audio
from searchengine.transcribe.whisper import WhisperTranscriber

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ljspeech-dev"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="base,tiny.en")
    args = ap.parse_args()
    rows = [json.loads(line) for line in (DATA / "manifest.jsonl").read_text().splitlines() if line.strip()]
    audio = [decode_audio(DATA / r["path"]) for r in rows]
    seconds = sum(len(a) for a in audio) / SAMPLE_RATE
    cache = Path(tempfile.mkdtemp(prefix="se-asr-"))
    print(f"ljspeech-dev: {len(rows)} clips, {seconds:.1f} s of audio")
    for name in args.models.split(","):
        asr = WhisperTranscriber(name, cache, language="en")
        t0 = time.perf_counter()
        hyps = [" ".join(s.text for s in asr.transcribe(a)[0]) for a in audio]
        wall = time.perf_counter() - t0
        total_edits = sum(word_edits(words(r["texts"][0]), words(h)) for r, h in zip(rows, hyps))
        total_words = sum(len(words(r["texts"][0])) for r in rows)
        print(f"whisper {name:8} WER {total_edits / total_words:.3f}  ({total_edits}/{total_words} words)"
              f"   speed {seconds / wall:.1f}x real time ({wall:.1f} s wall)")


if __name__ == "__main__":
    main()
