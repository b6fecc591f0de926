"""Text in images: reading it (:mod:`.reader`, PP-OCR on ONNX Runtime through
rapidocr-onnxruntime, loaded lazily), grouping what is read into lines and blocks with their
boxes (:mod:`.layout`), and the per-image step of indexing with its cache by content hash
(:mod:`.stage`)."""

from searchengine.ocr.layout import Block, Line, group_blocks, merge_lines

OCR_MODES = ("auto", "on", "off")

__all__ = ["Block", "Line", "OCR_MODES", "group_blocks", "merge_lines"]
