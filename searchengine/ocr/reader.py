"""Reading text in a picture with PP-OCR (detector, angle classifier, recogniser; Chinese
and English) on ONNX Runtime, through ``rapidocr-onnxruntime``, imported only when the
first picture is read. A picture without text costs a small detector pass alone: the
detector first looks at the picture shrunk to ``GATE_SIDE`` a side, and only when that pass
sees text pixels does the full read (detector at the picture's size, angle classifier,
recogniser) run; a picture near that size anyway skips the small pass."""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import threading
import time
from typing import Any, Iterator

import numpy as np
from PIL import Image

from searchengine.errors import ModelUnavailableError
from searchengine.ocr.layout import Line, is_junk, merge_lines

log = logging.getLogger(__name__)

PACKAGE = "rapidocr_onnxruntime"
INSTALL_HINT = "pip install rapidocr-onnxruntime==1.4.4"
SOURCE = "ocr:ppocr-v4"  # the reader's name in the cache (image_texts.source)
# The first pass: text of 16 px on a 640 px photo (the smallest the benchmark reads) is still
# 12 px at 480, where the detector marks it; a text-free 1024 x 768 photo costs ~1/6 of its
# detector pass at full size. The price: text under ~2.5 % of a large picture's long side
# (under ~24 px at 1024) may go unread (docs/quality.md). A picture whose long side is under
# GATE_SIDE * GATE_MIN_GAIN (672 px: a 640 px photo) goes straight to the full read: there the
# pass would look at over half the pixels of the full one, and a third or more of such photos
# pass it anyway (they pay both), while it turns away some text the full read finds (yellow
# or light text on a light background shrunk to 0.75: 4 of 64 held-out 640 px signs, and
# bench_ocr's 小心地滑). Measured paired: +8 % OCR time on 640 px photos (coco-dev), none
# on imagenet-dev's first 200 (docs/quality.md).
GATE_SIDE = 480
GATE_MIN_GAIN = 1.4


def available() -> bool:
    """Whether the OCR package can be imported (without importing it)."""
    return importlib.util.find_spec(PACKAGE) is not None


class OcrUnavailableError(ModelUnavailableError):
    """Text in images was asked for (``--ocr on``) but the OCR package is not installed."""


class TextReader:
    """Thread-safe; the models load on the first :meth:`read`."""

    source = SOURCE

    def __init__(self, threads: int = 0):
        self._threads = threads
        self._engine: Any = None
        self._lock = threading.Lock()
        self.gated = 0  # pictures the small first pass found text-free (never fully read)
        self.full_reads = 0  # pictures that went through the full read

    def _load(self) -> Any:
        if self._engine is None:
            try:
                from rapidocr_onnxruntime import RapidOCR
            except ImportError as exc:
                raise OcrUnavailableError(
                    f"reading text in images needs the rapidocr-onnxruntime package ({exc}); "
                    f"install it with `{INSTALL_HINT}`, or index with --ocr off"
                ) from exc
            t0 = time.perf_counter()
            threads = self._threads or -1
            # "max": the detector sees the picture at its own size (the decoder gives at most
            # 1024 px a side), never enlarged as rapidocr's default ("min", 736) would do
            # at several times the cost for a photo without text
            with _sessions_without_spinning(self._threads):
                self._engine = RapidOCR(det_limit_type="max",
                                        intra_op_num_threads=threads, inter_op_num_threads=threads)
            _fast_detector_input(self._engine)
            logging.getLogger("RapidOCR").setLevel(logging.WARNING)
            log.info("OCR models loaded in %.2fs", time.perf_counter() - t0)
        return self._engine

    def read(self, image: Image.Image) -> list[Line]:
        """The lines of text in ``image`` (boxes as fractions of its size), top to bottom;
        an empty list for a picture without text."""
        return self.read_timed(image)[0]

    def read_timed(self, image: Image.Image) -> tuple[list[Line], float]:
        """:meth:`read`, and the seconds the models took (not counting the wait for another
        thread's picture: one picture is read at a time, on all the cores)."""
        rgb = image if image.mode == "RGB" else image.convert("RGB")
        bgr = np.ascontiguousarray(np.asarray(rgb)[:, :, ::-1])
        w, h = rgb.size
        with self._lock:  # rapidocr keeps per-call state on its objects
            engine = self._load()
            t0 = time.perf_counter()
            if max(w, h) >= GATE_SIDE * GATE_MIN_GAIN and not _text_pixels(engine, bgr):
                self.gated += 1
                result = None
            else:
                self.full_reads += 1
                result, _ = engine(bgr)
            seconds = time.perf_counter() - t0
        pieces = []
        for quad, text, score in result or ():
            if is_junk(str(text), float(score)):
                continue
            xs, ys = [float(p[0]) for p in quad], [float(p[1]) for p in quad]
            box = (max(0.0, min(xs) / w), max(0.0, min(ys) / h), min(1.0, max(xs) / w), min(1.0, max(ys) / h))
            pieces.append(Line(str(text).strip(), box, float(score)))
        return merge_lines(pieces, aspect=w / h), seconds


def _text_pixels(engine: Any, bgr: np.ndarray) -> bool:
    """Whether the detector, on ``bgr`` shrunk to ``GATE_SIDE`` a side, marks any pixel as
    text (its probability over the detector's own threshold, the one its boxes start from)."""
    det = engine.text_det
    small = _lut_preprocess(GATE_SIDE, "max", det.mean, det.std)(bgr)
    if small is None:
        return True  # let the full read decide
    probability = det.infer(small)[0]
    return bool((probability > det.postprocess_op.thresh).any())


@contextlib.contextmanager
def _sessions_without_spinning(threads: int) -> Iterator[None]:
    """rapidocr's three ONNX Runtime sessions opened, once, with idle threads that sleep
    instead of spinning (rapidocr leaves ONNX Runtime's default, spinning): the cores are
    shared with the encoder and the decode threads, as for the encoder's own sessions
    (encoders.onnx_runtime). Before, the sessions were opened by rapidocr and then a second
    time: 0.2 s of CPU, 0.5 s of wall time on the loaded 2-core machine, for nothing."""
    try:
        from rapidocr_onnxruntime.utils.infer_engine import OrtInferSession
    except ImportError:  # another rapidocr layout: its sessions stay as they are
        yield
        return
    from searchengine.encoders.onnx_runtime import cpu_threads

    made = OrtInferSession.__dict__.get("_init_sess_opts")
    if not isinstance(made, staticmethod):
        yield
        return

    def options(config: dict[str, Any]) -> Any:
        opts = made.__func__(config)
        opts.intra_op_num_threads = threads or cpu_threads()
        opts.inter_op_num_threads = 1
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return opts

    with _PATCH_LOCK:
        OrtInferSession._init_sess_opts = staticmethod(options)
        try:
            yield
        finally:
            OrtInferSession._init_sess_opts = made


_PATCH_LOCK = threading.Lock()


class _LutDetPreProcess:
    """rapidocr's ``DetPreProcess`` (resize to a multiple of 32, then ``(x / 255 - mean) /
    std`` in float64, cast to float32) with the normalisation read from a 256-entry table
    made by the same float64 arithmetic: the same float32 values, bit for bit, at about a
    quarter of the cost (the float64 pass over a 512 x 384 picture was ~6 % of a full read
    of a text-free photo)."""

    def __init__(self, limit_side_len: int, limit_type: str, mean: Any, std: Any):
        from rapidocr_onnxruntime.ch_ppocr_det.utils import DetPreProcess

        self._base = DetPreProcess(limit_side_len, limit_type, mean, std)
        levels = np.arange(256, dtype=np.uint8).reshape(256, 1)
        # one row per grey level, one column per channel: the original arithmetic, exactly
        self._table = np.ascontiguousarray(self._base.normalize(np.repeat(levels, 3, axis=1)[:, None, :])[:, 0, :]
                                           .astype(np.float32).T)  # (3, 256)

    def __call__(self, img: np.ndarray) -> np.ndarray | None:
        resized = self._base.resize(img)
        if resized is None:
            return None
        if resized.dtype != np.uint8 or resized.ndim != 3 or resized.shape[2] != 3:
            return self._base(img)  # not an 8-bit BGR picture: the original path
        planes = np.empty((1, 3) + resized.shape[:2], dtype=np.float32)
        for c in range(3):
            np.take(self._table[c], resized[:, :, c], out=planes[0, c])
        return planes


def _fast_detector_input(engine: Any) -> None:
    """The detector's own pre-processing replaced by :class:`_LutDetPreProcess` (same input,
    cheaper); left alone where rapidocr's detector is laid out otherwise."""
    det = getattr(engine, "text_det", None)
    if det is None or not callable(getattr(det, "get_preprocess", None)):
        return
    original = det.get_preprocess

    def get_preprocess(max_wh: int) -> Any:
        base = original(max_wh)
        return _lut_preprocess(base.limit_side_len, base.limit_type, det.mean, det.std)

    det.get_preprocess = get_preprocess


_LUT_CACHE: dict[tuple[Any, ...], _LutDetPreProcess] = {}


def _lut_preprocess(limit_side_len: int, limit_type: str, mean: Any, std: Any) -> _LutDetPreProcess:
    """One :class:`_LutDetPreProcess` per side, kind and normalisation (its table made once)."""
    key = (limit_side_len, limit_type, tuple(mean), tuple(std))
    cached = _LUT_CACHE.get(key)
    if cached is None:
        cached = _LUT_CACHE[key] = _LutDetPreProcess(limit_side_len, limit_type, mean, std)
    return cached
