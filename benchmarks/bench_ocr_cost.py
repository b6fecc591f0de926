"""What reading text costs a photo, part by part, in CPU time (all threads: the figure a
shared or busy machine still gives), and what the cheaper detector passes would lose.

    .venv/bin/python benchmarks/bench_ocr_cost.py [--photos 200] [--sides 480,384,320,256,192] [--int8]

Two sets, as in bench_ocr_gate.py: bench_ocr's 80 rendered photos (Chinese and English
phrases drawn over coco-dev / imagenet-dev photos, 14-52 px) and the first ``--photos``
imagenet-dev photos (what bench_vs_rclip indexes). Printed (CPU ms a photo, from
``getrusage``: every thread of the process, models loaded before timing):

- the full read of an imagenet-dev photo (``TextReader.read``'s models: detector at the
  photo's size, angle classifier and recogniser on what it found), and its parts: the
  detector's pre-processing (rapidocr's own float64 pass and the table the reader uses),
  the detector's network, its post-processing (boxes from the probability map);
- the detector's network with 1 and with 2 intra-op threads (the same work either way?),
  and without and with ONNX Runtime's CPU memory arena (rapidocr turns it off: every
  picture's activations are then fresh pages from the kernel);
- the detector at each of ``--sides`` (the picture shrunk to that long side): its cost and
  how many rendered photos it still finds text in (any pixel over the detector's own
  threshold, 0.3) against how many imagenet-dev photos it sends on; the highest text
  probability of the photos it misses (the map is all but binary: a lower threshold does
  not bring them back);
- ``--int8``: the detector quantised to int8 (ONNX Runtime static QDQ, per channel,
  calibrated on 24 coco-dev photos; made in a temporary folder, ~1 min): its cost and the
  share of the fp32 detector's text pixels it agrees on.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_ocr import make_rendered, photos  # noqa: E402

from searchengine.media.images import load_image  # noqa: E402
from searchengine.ocr import reader as ocr_reader  # noqa: E402

DATA = ROOT.parent / "shared" / "data"


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def per_photo(items: list[Any], step: Callable[[Any], Any]) -> tuple[float, list[Any]]:
    """(CPU ms a photo, the results) of ``step`` over ``items``."""
    c0 = cpu()
    out = [step(x) for x in items]
    return (cpu() - c0) * 1000 / max(1, len(items)), out


def to_bgr(image: Any) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1])


def session(path: str, threads: int, arena: bool = True) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.enable_cpu_mem_arena = arena
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(path, sess_options=options, providers=["CPUExecutionProvider"])


def quantised(src: str, folder: Path) -> str:
    """The detector at int8 (static QDQ, per channel; opset 13 for per-channel scales)."""
    import onnx
    from onnx import version_converter
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from rapidocr_onnxruntime.ch_ppocr_det.utils import DetPreProcess

    pre = DetPreProcess(736, "max", [0.5] * 3, [0.5] * 3)
    calibration = [pre(to_bgr(load_image(p))) for p in sorted((DATA / "coco-dev" / "images").glob("*.jpg"))[:24]]

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter(calibration)

        def get_next(self) -> dict | None:
            x = next(self.items, None)
            return None if x is None else {"x": x}

    onnx.save(version_converter.convert_version(onnx.load(src), 13), str(folder / "det13.onnx"))
    quant_pre_process(str(folder / "det13.onnx"), str(folder / "det_pre.onnx"), skip_symbolic_shape=True)
    out = str(folder / "det_int8.onnx")
    quantize_static(str(folder / "det_pre.onnx"), out, Reader(), quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--photos", type=int, default=200)
    ap.add_argument("--sides", default="480,384,320,256,192")
    ap.add_argument("--int8", action="store_true")
    args = ap.parse_args()

    from rapidocr_onnxruntime.ch_ppocr_det.utils import DetPreProcess

    rng = random.Random(14)  # bench_ocr's set
    pool = photos()
    rng.shuffle(pool)
    work = Path(tempfile.mkdtemp(prefix="bench-ocr-cost-"))
    rendered = [to_bgr(load_image(i.path)) for i in make_rendered(work, 40, rng, pool[:80])]
    imagenet = [to_bgr(load_image(p)) for p in sorted((DATA / "imagenet-dev" / "images").iterdir())[: args.photos]]
    reader = ocr_reader.TextReader()
    engine = reader._load()
    det = engine.text_det
    thresh = det.postprocess_op.thresh
    engine(imagenet[0])  # warm up
    print(f"{len(rendered)} rendered photos with text, {len(imagenet)} imagenet-dev photos; CPU ms a photo "
          f"(all threads)", flush=True)

    full, _ = per_photo(imagenet, lambda b: engine(b))
    ours = det.get_preprocess(960)
    theirs = DetPreProcess(960, "max", det.mean, det.std)
    pre_theirs, _ = per_photo(imagenet, theirs)
    pre_ours, inputs = per_photo(imagenet, ours)
    network, maps = per_photo(inputs, lambda x: det.infer(x)[0])
    post, _ = per_photo(list(zip(maps, imagenet)), lambda mb: det.filter_tag_det_res(
        det.postprocess_op(mb[0], mb[1].shape[:2])[0], mb[1].shape[:2]))
    print(f"full read (imagenet-dev)        {full:6.1f}")
    print(f"  detector pre-processing       {pre_theirs:6.1f} (rapidocr's float64 pass) -> {pre_ours:.1f} (table)")
    print(f"  detector network, own size    {network:6.1f}")
    print(f"  detector post-processing      {post:6.1f}")
    print(f"  rest (crops, angle classifier, recogniser on the boxes found) {full - pre_ours - network - post:6.1f}",
          flush=True)
    model_path = det.infer.session._model_path
    for threads in (1, 2):
        s = session(model_path, threads)
        s.run(None, {"x": inputs[0]})
        ms, _ = per_photo(inputs, lambda x: s.run(None, {"x": x}))
        print(f"detector network, {threads} intra-op thread(s): {ms:6.1f}", flush=True)
    for arena in (False, True):  # rapidocr opens its sessions without ONNX Runtime's memory arena
        s = session(model_path, 2, arena=arena)
        s.run(None, {"x": inputs[0]})
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        ms, _ = per_photo(inputs, lambda x: s.run(None, {"x": x}))
        faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / len(inputs)
        print(f"detector network, memory arena {'on' if arena else 'off'}: {ms:6.1f} ({faults:.0f} page faults a photo)",
              flush=True)

    for side in [0] + [int(s) for s in args.sides.split(",") if s]:
        row = {}
        for key, bgrs in (("text", rendered), ("imagenet", imagenet)):
            pre = ocr_reader._LutDetPreProcess(side or 10**6, "max", det.mean, det.std)
            ms, peaks = per_photo(bgrs, lambda b: float(det.infer(pre(b))[0].max()))
            row[key] = (ms, np.asarray(peaks))
        text, imnet = row["text"][1], row["imagenet"][1]
        missed = text[text <= thresh]
        print(f"detector at {side or 'own size':>8}: {row['imagenet'][0]:6.1f} ms; text found in "
              f"{int((text > thresh).sum())}/{len(text)} rendered, sends on {int((imnet > thresh).sum())}/{len(imnet)} "
              f"imagenet-dev; highest probability of the missed: {missed.max() if missed.size else float('nan'):.3f}",
              flush=True)

    if args.int8:
        t0 = time.perf_counter()
        path = quantised(model_path, work)
        print(f"int8 detector made in {time.perf_counter() - t0:.0f}s", flush=True)
        text_inputs = [ours(b) for b in rendered]
        ref: dict[str, list[np.ndarray]] = {}
        for name, p in (("fp32", model_path), ("int8", path)):
            s = session(p, 2)
            s.run(None, {"x": inputs[0]})
            line = f"detector network {name}:"
            for key, xs in (("imagenet-dev", inputs), ("rendered", text_inputs)):
                ms, out = per_photo(xs, lambda x: s.run(None, {"x": x})[0][0, 0] > thresh)
                ref.setdefault(key, out)
                both = [(a & b).sum() / (a | b).sum() for a, b in zip(out, ref[key]) if (a | b).any()]
                line += (f" {key} {ms:6.1f} ms, text in {sum(bool(m.any()) for m in out)}/{len(out)},"
                         f" text pixels shared with fp32 (IoU) {np.mean(both):.3f};")
            print(line, flush=True)


if __name__ == "__main__":
    main()
