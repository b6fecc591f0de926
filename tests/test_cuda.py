"""The GPU path, on a machine with an NVIDIA GPU (benchmarks/gpu_check.sh runs these). Without
CUDA they are skipped, or fail where SEARCHENGINE_REQUIRE_CUDA=1 says a GPU must be there."""

from __future__ import annotations

import io
import json
import os
import time

import numpy as np
import pytest

torch = pytest.importorskip("torch")

if not torch.cuda.is_available():
    if os.environ.get("SEARCHENGINE_REQUIRE_CUDA") == "1":
        raise RuntimeError("SEARCHENGINE_REQUIRE_CUDA=1 but torch sees no CUDA device")
    pytest.skip("no CUDA device", allow_module_level=True)


@pytest.fixture(scope="module")
def vit_spec(tmp_path_factory) -> str:
    import open_clip
    from open_clip.factory import get_model_config

    folder = tmp_path_factory.mktemp("vit-b-32-random")
    torch.manual_seed(0)
    model = open_clip.create_model("ViT-B-32", pretrained=None)
    torch.save(model.state_dict(), folder / "open_clip_pytorch_model.bin")
    (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": get_model_config("ViT-B-32")}))
    return f"open_clip:local-dir:{folder}"


def photo(seed: int):
    from PIL import Image

    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, (240, 320, 3), dtype=np.uint8).repeat(2, 0).repeat(2, 1))


def test_fp16_on_cuda_matches_fp32_on_cpu(vit_spec, tmp_path):
    from searchengine.encoders.registry import load_encoder

    gpu = load_encoder(vit_spec, "cuda", "auto", tmp_path)  # auto on CUDA: fp16
    cpu = load_encoder(vit_spec, "cpu", "fp32", tmp_path)
    images = [photo(i) for i in range(4)]
    a = gpu.encode_prepared_images([gpu.prepare_image(i) for i in images])
    b = cpu.encode_prepared_images([cpu.prepare_image(i) for i in images])
    assert a.shape == b.shape == (4, 512)
    assert (a * b).sum(axis=1).min() > 0.99
    t = gpu.encode_texts(["a red bus"])
    assert np.allclose(np.linalg.norm(t, axis=1), 1.0, atol=1e-3)


def test_decode_jpeg_on_cuda_matches_the_cpu():
    from torchvision.io import decode_jpeg

    buf = io.BytesIO()
    photo(7).save(buf, "JPEG", quality=90)
    data = torch.frombuffer(bytearray(buf.getvalue()), dtype=torch.uint8)
    on_gpu = decode_jpeg([data, data], device="cuda")
    on_cpu = decode_jpeg(data)
    assert on_gpu[0].is_cuda and on_gpu[0].shape == on_cpu.shape == (3, 480, 640)
    assert (on_gpu[0].cpu().int() - on_cpu.int()).abs().float().mean() < 2.0


def test_faiss_search_on_the_gpu_equals_the_cpu(monkeypatch):
    import searchengine.catalog  # noqa: F401 - first: vectors.faiss_index alone is a circular import
    from searchengine.vectors import faiss_index
    from searchengine.vectors.faiss_index import VectorIndex

    assert faiss_index._num_gpus() >= 1, "faiss sees no GPU: install faiss-gpu"
    rng = np.random.default_rng(0)
    data = rng.standard_normal((50_000, 512), dtype=np.float32)
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    index = VectorIndex(512)
    index.add(np.arange(1, 50_001, dtype=np.int64), data)
    queries = data[:20] + 0.01
    cpu_scores, cpu_ids = index._index.search(queries, 10)
    monkeypatch.setattr(faiss_index, "GPU_RECOPY_S", 0.0)
    time.sleep(0.01)
    searcher = index._searcher(10)
    assert searcher is not index._index, "the flat index was not copied to the GPU"
    scores, ids = index.search(queries, 10)
    assert (ids[:, 0] == np.arange(1, 21)).all()
    assert (np.sort(ids, axis=1) == np.sort(cpu_ids, axis=1)).mean() > 0.99
