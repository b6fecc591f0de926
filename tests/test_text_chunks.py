from searchengine.media.text import chunk_text


def test_chunks_cover_text_with_overlap_and_exact_spans():
    text = " ".join(f"word{i}" for i in range(400))
    chunks = chunk_text(text, size=100, overlap=20)
    assert len(chunks) > 5
    for c in chunks:
        assert text[c.start : c.end] == c.text
        assert len(c.text) <= 100
        assert not c.text.startswith(" ") and not c.text.endswith(" ")
    # neighbours overlap, and together they cover every word
    for a, b in zip(chunks, chunks[1:]):
        assert b.start < a.end
    covered = set()
    for c in chunks:
        covered.update(c.text.split())
    assert covered == set(text.split())


def test_blank_text_has_no_chunks_and_short_text_one():
    assert chunk_text("   \n\t ", 100, 10) == []
    (only,) = chunk_text("  héllo wörld  ", 100, 10)
    assert only.text == "héllo wörld" and (only.start, only.end) == (2, 13)


def test_text_without_spaces_still_splits():
    text = "x" * 250
    chunks = chunk_text(text, size=100, overlap=10)
    assert [len(c.text) for c in chunks][:2] == [100, 100]
    assert chunks[-1].end == 250
