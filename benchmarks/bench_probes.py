"""Peak memory and time of issue 21's cost probes, each in a fresh process (VmHWM).

- ``wav_1hz``: a 10 KB WAV declaring 1 Hz (2.8 hours), decoded for speech recognition
  (before: +2 GB and 19 s);
- ``proc_link``: hashing a link to ``/proc/self/pagemap`` (before: never ended);
- ``webp_upload``: a 64-megapixel WebP (a few hundred KB) decoded as an uploaded query image
  with the server's limits (before: ~1 GB).

    python benchmarks/bench_probes.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def vm_hwm() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def probe(name: str, path: str) -> dict:
    import numpy as np  # noqa: F401  (imports counted in the baseline)
    from PIL import Image  # noqa: F401

    from searchengine.errors import SearchEngineError
    from searchengine.media.audio import decode_audio
    from searchengine.media.hashing import content_hash
    from searchengine.media.images import _register_heif, load_image
    from searchengine.http.state import UPLOAD_MAX_DECODE_BYTES, UPLOAD_MAX_PIXELS

    _register_heif()  # imports outside the measured time
    base, t0 = vm_hwm(), time.perf_counter()
    outcome = "ok"
    try:
        if name == "wav_1hz":
            decode_audio(Path(path))
        elif name == "proc_link":
            content_hash(Path(path))
        elif name == "webp_upload":
            with open(path, "rb") as f:
                load_image(f, max_pixels=UPLOAD_MAX_PIXELS, max_bytes=UPLOAD_MAX_DECODE_BYTES)
    except SearchEngineError as exc:
        outcome = f"refused: {exc}"
    return {"probe": name, "seconds": round(time.perf_counter() - t0, 3),
            "peak_above_baseline_mb": round((vm_hwm() - base) / 1e6, 1), "outcome": outcome[:160]}


def main() -> None:
    if len(sys.argv) == 3:
        print(json.dumps(probe(sys.argv[1], sys.argv[2])))
        return
    from PIL import Image

    tmp = Path(tempfile.mkdtemp(prefix="probes-"))
    wav = tmp / "slow.wav"
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(1)
        w.writeframes(os.urandom(10_000))
    link = tmp / "pm.txt"
    os.symlink("/proc/self/pagemap", link)
    webp = tmp / "big.webp"
    Image.new("RGB", (8000, 8000), (120, 30, 200)).save(webp, format="WEBP", quality=10)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    for name, path in (("wav_1hz", wav), ("proc_link", link), ("webp_upload", webp)):
        size = os.path.getsize(path) if name != "proc_link" else 0
        out = subprocess.run([sys.executable, __file__, name, str(path)], env=env, capture_output=True, text=True,
                             timeout=120)
        result = json.loads(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else {"error": out.stderr[-300:]}
        print(json.dumps({**result, "file_bytes": size}))


if __name__ == "__main__":
    main()
