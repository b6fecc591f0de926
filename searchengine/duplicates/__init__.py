"""Exact copies and near-duplicate photos: the pass (finder) and its renderings."""
