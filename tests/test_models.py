"""Model specs and loading through open_clip's own mechanism, with no network."""

import subprocess
import sys

import numpy as np
import pytest

from searchengine.encoders.registry import load_encoder, parse_spec
from searchengine.errors import ModelUnavailableError


def test_spec_parsing():
    assert parse_spec("open_clip:ViT-B-32/laion2b_s34b_b79k") == ("open_clip", "ViT-B-32/laion2b_s34b_b79k")
    assert parse_spec("open_clip:local-dir:/x") == ("open_clip", "local-dir:/x")
    with pytest.raises(ModelUnavailableError, match="backend prefix"):
        parse_spec("ViT-B-32")
    with pytest.raises(ModelUnavailableError, match="unknown model backend 'nope'"):
        parse_spec("nope:thing")


def test_tiny_model_loads_through_production_loader(tiny_clip):
    encoder = load_encoder(tiny_clip)
    vecs = encoder.encode_texts(["a dog", "a cat", "a dog"])
    assert vecs.shape == (3, encoder.dim) and vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert np.allclose(vecs[0], vecs[2]) and not np.allclose(vecs[0], vecs[1])


def test_default_model_without_weights_or_network_says_how_to_supply_them(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-cache"))
    with pytest.raises(ModelUnavailableError) as err:
        load_encoder("open_clip:ViT-B-32/laion2b_s34b_b79k")
    message = str(err.value)
    assert "ViT-B-32/laion2b_s34b_b79k" in message and "local-dir" in message


def test_bad_specs_name_the_problem(tmp_path):
    with pytest.raises(ModelUnavailableError, match="unknown open_clip architecture"):
        load_encoder("open_clip:NoSuchNet/x")
    with pytest.raises(ModelUnavailableError, match="names no weights"):
        load_encoder("open_clip:ViT-B-32")
    with pytest.raises(ModelUnavailableError, match="no open_clip_config.json"):
        load_encoder(f"open_clip:local-dir:{tmp_path}")
    (tmp_path / "open_clip_config.json").write_text("{}")
    with pytest.raises(ModelUnavailableError, match="no weights file"):
        load_encoder(f"open_clip:local-dir:{tmp_path}")


def test_importing_the_package_does_not_import_torch():
    code = "import sys, searchengine, searchengine.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
