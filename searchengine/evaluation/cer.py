"""Character accuracy of text read in an image against the text written there."""

from __future__ import annotations

from searchengine.evaluation.wer import word_edits


def characters(text: str) -> list[str]:
    """The characters that count: everything but white space (a reader may space words
    differently, and Chinese is written without spaces)."""
    return [ch for ch in text if not ch.isspace()]


def char_edits(reference: str, hypothesis: str) -> int:
    """Levenshtein distance in characters (white space left out)."""
    return word_edits(characters(reference), characters(hypothesis))


def char_accuracy(reference: str, hypothesis: str) -> float:
    """1 - character error rate, floored at 0."""
    ref = characters(reference)
    return max(0.0, 1.0 - char_edits(reference, hypothesis) / max(1, len(ref)))
