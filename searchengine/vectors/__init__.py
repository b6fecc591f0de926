"""The FAISS index of the engine's vectors."""
