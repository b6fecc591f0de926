"""Encoders turn text and images into vectors of one joint space.

The only package that imports torch and model libraries, and only when a model is loaded.
"""

from searchengine.encoders.base import Encoder
from searchengine.encoders.registry import load_encoder, parse_spec

__all__ = ["Encoder", "load_encoder", "parse_spec"]
