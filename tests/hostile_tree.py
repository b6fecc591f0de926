"""A folder of hostile entries (>= 300 of >= 30 kinds) and what indexing must make of each.

``build(root)`` writes the tree and returns one :class:`Entry` per thing in it: what kind
it is and what the indexer must do with it. ``expect`` is one of

- ``indexed``: stored with its vectors;
- ``failed``: stored as failed, with a reason;
- ``stored``: either of those (e.g. an unreadable file, which root can read anyway);
- ``skipped:CODE``: never read, reported by discovery with that code (see
  :mod:`searchengine.media.discover`); an entry inside a skipped folder is accounted for by
  that folder's skip.

Run ``python tests/hostile_tree.py DIR`` to build one by hand.
"""

from __future__ import annotations

import io
import math
import os
import random
import socket
import struct
import sys
import wave
import zlib
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


@dataclass(frozen=True)
class Entry:
    path: str  # absolute, as os.fsdecode gives it (may hold surrogates)
    kind: str
    expect: str


def _png(seed: int, size: tuple[int, int] = (64, 48)) -> bytes:
    rng = random.Random(seed)
    img = Image.new("RGB", (4, 4))
    img.putdata([(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(16)])
    buf = io.BytesIO()
    img.resize(size, Image.NEAREST).save(buf, "PNG")
    return buf.getvalue()


def _jpeg(seed: int) -> bytes:
    buf = io.BytesIO()
    Image.open(io.BytesIO(_png(seed))).save(buf, "JPEG")
    return buf.getvalue()


def _gif(seed: int) -> bytes:
    buf = io.BytesIO()
    Image.open(io.BytesIO(_png(seed))).convert("P").save(buf, "GIF")
    return buf.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png_bomb(width: int, height: int, rows: int | None = None) -> bytes:
    """A PNG whose header promises width x height grey pixels; ``rows`` of them really
    compressed in (all, by default: a decompression bomb of a few hundred kB)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    comp = zlib.compressobj(9)
    row = b"\x00" * (width + 1)
    parts = [comp.compress(row) for _ in range(height if rows is None else rows)]
    parts.append(comp.flush())
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", b"".join(parts)) + _chunk(b"IEND", b"")


def _gif_bomb(width: int, height: int) -> bytes:
    """A GIF whose logical screen is width x height, with one tiny frame."""
    header = b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    frame = b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0) + b"\x02\x02\x44\x01\x00"
    return header + frame + b"\x3b"


def _wav(seconds: float = 1.0, rate: int = 16000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        n = int(seconds * rate)
        w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(i / 10))) for i in range(n)))
    return buf.getvalue()


def _wav_header(channels: int, rate: int, bits: int, data_size: int, fmt_tag: int = 1) -> bytes:
    block = max(1, channels * bits // 8) & 0xFFFF
    fmt = struct.pack("<HHIIHH", fmt_tag, channels & 0xFFFF, rate & 0xFFFFFFFF,
                      (rate * block) & 0xFFFFFFFF, block, bits & 0xFFFF)
    return (b"RIFF" + struct.pack("<I", (36 + data_size) & 0xFFFFFFFF) + b"WAVE" + b"fmt " + struct.pack("<I", 16)
            + fmt + b"data" + struct.pack("<I", data_size & 0xFFFFFFFF))


class _Tree:
    def __init__(self, root: Path):
        self.root = root
        self.entries: list[Entry] = []
        self.rng = random.Random(11)

    def add(self, rel: str | bytes, kind: str, expect: str, data: bytes | None = None) -> str:
        raw = os.path.join(os.fsencode(self.root), rel if isinstance(rel, bytes) else os.fsencode(rel))
        os.makedirs(os.path.dirname(raw), exist_ok=True)
        if data is not None:
            with open(raw, "wb") as handle:
                handle.write(data)
        path = os.fsdecode(raw)
        self.entries.append(Entry(path, kind, expect))
        return path

    def link(self, rel: str, target: str | bytes, kind: str, expect: str) -> None:
        raw = os.path.join(os.fsencode(self.root), os.fsencode(rel))
        os.makedirs(os.path.dirname(raw), exist_ok=True)
        os.symlink(target, raw)
        self.entries.append(Entry(os.fsdecode(raw), kind, expect))


def build(root: Path, outside: Path | None = None) -> list[Entry]:
    """Write the hostile tree under ``root`` (created) and return its entries. ``outside``
    (default: a sibling folder) holds targets of symlinks that leave the tree."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    outside = outside or root.parent / (root.name + "-outside")
    outside.mkdir(parents=True, exist_ok=True)
    (outside / "secret.txt").write_text("launch codes: 0000")
    (outside / "secret.png").write_bytes(_png(999))
    t = _Tree(root)
    rnd = t.rng.randbytes

    # -- controls: ordinary good files ---------------------------------------------------
    for i in range(6):
        t.add(f"good/photo{i}.png", "good_png", "indexed", _png(i))
    for i in range(3):
        t.add(f"good/photo{i}.jpg", "good_jpeg", "indexed", _jpeg(10 + i))
    t.add("good/anim.gif", "good_gif", "indexed", _gif(20))
    for i in range(4):
        t.add(f"good/note{i}.md", "good_text", "indexed", f"note {i} about a dog on a beach".encode())
    t.add("good/latin1.txt", "latin1_text", "indexed", "caf\xe9 cr\xe8me br\xfbl\xe9e".encode("latin-1"))
    t.add("good/script.txt", "html_in_text", "indexed", b"<script>alert(1)</script> <img src=x onerror=alert(2)>")

    # -- empty and truncated -----------------------------------------------------------------
    for ext in ("jpg", "jpeg", "png", "gif", "webp", "bmp", "tif", "tiff", "heic", "heif", "txt", "md",
                "wav", "mp3", "flac", "ogg", "m4a", "opus", "mp4", "mkv", "webm", "mov",
                "pdf", "docx", "pptx", "odt", "epub", "html", "rtf"):
        t.add(f"empty/zero_{ext}.{ext}", "zero_byte", "skipped:empty", b"")  # own stems: no sidecars
    png, jpeg = _png(1, (200, 150)), _jpeg(2)
    for i, cut in enumerate((8, 16, 33, 40, 60, 100, 200, 400, len(png) // 2)):
        t.add(f"truncated/t{i}.png", "truncated_png", "failed", png[:cut])
    t.add("truncated/no_iend.png", "truncated_png_no_end", "stored", png[:-12])  # all pixels there
    for i, cut in enumerate((2, 3, 10, 20, 100, 200, 300, len(jpeg) // 3)):
        t.add(f"truncated/t{i}.jpg", "truncated_jpeg", "failed", jpeg[:cut])
    wav = _wav(1.0)
    for i, cut in enumerate((4, 12, 30, 44)):
        t.add(f"truncated/t{i}.wav", "truncated_wav", "failed", wav[:cut])

    # -- the right magic, then noise -----------------------------------------------------------
    magics = {"png": b"\x89PNG\r\n\x1a\n", "jpg": b"\xff\xd8\xff\xe0", "gif": b"GIF89a", "bmp": b"BM",
              "tif": b"II*\x00", "webp": b"RIFF\x00\x01\x00\x00WEBPVP8 ", "heic": b"\x00\x00\x00\x18ftypheic",
              "wav": b"RIFF\x00\x01\x00\x00WAVEfmt ", "mp3": b"ID3\x04\x00\x00\x00\x00\x00\x00",
              "flac": b"fLaC", "ogg": b"OggS\x00\x02", "mp4": b"\x00\x00\x00\x20ftypisom", "mkv": b"\x1aE\xdf\xa3"}
    for ext, magic in magics.items():
        for i in range(4):
            audio = ext in ("wav", "mp3", "flac", "ogg", "mp4", "mkv")  # noise may decode as sound
            t.add(f"magic/noise{i}.{ext}", f"magic_noise_{ext}", "stored" if audio else "failed",
                  magic + rnd(200 + 500 * i))
    for i in range(4):
        t.add(f"random/r{i}.png", "random_bytes", "failed", rnd(1000 + i))

    # -- wrong extensions ----------------------------------------------------------------------
    t.add("wrong/png_as.jpg", "png_named_jpg", "indexed", _png(30))  # content decides, format allowed
    t.add("wrong/jpeg_as.png", "jpeg_named_png", "indexed", _jpeg(31))
    t.add("wrong/png_as.wav", "image_named_audio", "failed", _png(32))
    t.add("wrong/png_as.mp3", "image_named_audio", "failed", _png(33))
    t.add("wrong/text_as.png", "text_named_image", "failed", b"just some words, not pixels")
    t.add("wrong/text_as.flac", "text_named_audio", "failed", b"just some words, not sound")
    t.add("wrong/binary.txt", "binary_text", "failed", b"\x00\x01\x02" * 100)
    t.add("wrong/nul.md", "binary_text", "failed", b"hello\x00world")
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"
    t.add("wrong/eps_as.jpg", "exotic_format_named_jpg", "failed", eps)  # EPS decoder is never reached
    ico = io.BytesIO()
    Image.open(io.BytesIO(_png(34))).save(ico, "ICO")
    t.add("wrong/ico_as.png", "exotic_format_named_png", "failed", ico.getvalue())
    pd = io.BytesIO()
    Image.open(io.BytesIO(_png(35))).save(pd, "PCX")
    t.add("wrong/pcx_as.bmp", "exotic_format_named_bmp", "failed", pd.getvalue())

    # -- bombs -------------------------------------------------------------------------------------
    t.add("bombs/huge_header.png", "png_bomb_header", "failed", _png_bomb(60000, 60000, rows=2))
    t.add("bombs/over_limit.png", "png_bomb", "failed", _png_bomb(12000, 12000))
    t.add("bombs/wide.png", "png_bomb_header", "failed", _png_bomb(2**31 - 1, 1, rows=0))
    t.add("bombs/gif_screen.gif", "gif_bomb", "failed", _gif_bomb(65535, 65535))
    t.add("bombs/gif_wide.gif", "gif_bomb", "failed", _gif_bomb(65535, 4000))
    tif = b"II*\x00\x08\x00\x00\x00" + struct.pack("<H", 3) + struct.pack("<HHII", 256, 4, 1, 100000) \
        + struct.pack("<HHII", 257, 4, 1, 100000) + struct.pack("<HHII", 258, 3, 1, 8) + b"\x00\x00\x00\x00"
    t.add("bombs/huge.tif", "tiff_bomb", "failed", tif)
    bmp = b"BM" + struct.pack("<IHHI", 54, 0, 0, 54) + struct.pack("<IiiHHIIiiII", 40, 100000, 100000, 1, 24, 0, 0, 0, 0, 0, 0)
    t.add("bombs/huge.bmp", "bmp_bomb", "failed", bmp)

    # -- garbage wav headers --------------------------------------------------------------------
    for i, (ch, rate, bits, size, tag) in enumerate([
        (0, 16000, 16, 1000, 1), (1, 0, 16, 1000, 1), (1, 16000, 0, 1000, 1), (65535, 16000, 16, 1000, 1),
        (1, 4_000_000_000, 16, 1000, 1), (1, 16000, 16, 0xFFFFFFFF, 1), (1, 16000, 16, 1000, 0xBEEF),
        (2, 44100, 13, 1000, 1),
    ]):
        t.add(f"wavs/garbage{i}.wav", "garbage_wav_header", "stored", _wav_header(ch, rate, bits, size, tag) + b"\x00" * 16)

    # -- not regular files ----------------------------------------------------------------------
    for name in ("pipe.jpg", "pipe.png", "pipe_t.txt", "pipe.md", "pipe.wav", "pipe.mp4"):
        path = t.add(f"special/{name}", "fifo", "skipped:special")
        os.mkfifo(path)
    for name in ("zero_t.txt", "zero.png", "zero.wav"):
        t.link(f"special/{name}", "/dev/zero", "link_to_dev_zero", "skipped:outside")
    t.link("special/null.md", "/dev/null", "link_to_dev_null", "skipped:outside")
    t.link("special/urandom.jpg", "/dev/urandom", "link_to_dev_urandom", "skipped:outside")
    short = Path("/tmp") / f"se-sock-{os.getpid()}-{t.rng.randrange(10**6)}"
    short.mkdir(exist_ok=True)
    for name in ("sock.png", "sock_t.txt"):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(short / name))
        sock.close()
        t.link(f"special/{name}", str(short / name), "link_to_socket", "skipped:outside")
    os.makedirs(root / "special", exist_ok=True)
    for name in ("sock.jpg",):
        target = root / "special" / name
        if len(os.fsencode(target)) < 100:  # AF_UNIX paths are short
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.bind(str(target))
            sock.close()
            t.entries.append(Entry(str(target), "socket", "skipped:special"))
    # a FIFO inside the tree, reached through a symlink inside the tree
    t.add("special/inner/fifo.png", "fifo", "skipped:special")
    os.mkfifo(os.path.join(root, "special/inner/fifo.png"))
    t.link("special/link_to_fifo.png", "inner/fifo.png", "link_to_fifo_inside", "skipped:special")

    # -- symlinks -------------------------------------------------------------------------------------
    t.link("links/loop_a.png", "loop_b.png", "symlink_loop", "skipped:loop")
    t.link("links/loop_b.png", "loop_a.png", "symlink_loop", "skipped:loop")
    t.link("links/self.txt", "self.txt", "symlink_loop", "skipped:loop")
    t.link("links/parent_dir", "..", "folder_loop", "skipped:loop")
    t.link("links/root_dir", str(root), "folder_loop", "skipped:loop")
    for i in range(4):
        t.link(f"links/dangling{i}.png", f"missing/nowhere{i}.png", "dangling_link", "skipped:dangling")
    t.link("links/dangling_dir", "no/such/folder", "dangling_folder_link", "skipped:dangling")
    t.link("links/passwd.txt", "/etc/passwd", "link_outside_file", "skipped:outside")
    t.link("links/secret.txt", str(outside / "secret.txt"), "link_outside_file", "skipped:outside")
    t.link("links/secret.png", str(outside / "secret.png"), "link_outside_file", "skipped:outside")
    t.link("links/etc", "/etc", "link_outside_folder", "skipped:outside")
    t.link("links/slash", "/", "link_outside_folder", "skipped:outside")
    t.link("links/outside_dir", str(outside), "link_outside_folder", "skipped:outside")
    t.link("links/sneaky.txt", "../good/../../" + root.name + "-outside/secret.txt", "link_outside_via_dotdot",
           "skipped:outside")
    t.link("links/alias0.png", "../good/photo0.png", "link_inside_duplicate", "skipped:duplicate")
    os.link(root / "good/photo1.png", root / "links/hardlink1.png")
    t.entries.append(Entry(str(root / "links/hardlink1.png"), "hard_link_duplicate", "skipped:duplicate"))
    t.add("links/target_dir/inside.png", "good_png", "indexed", _png(40))
    t.link("links/zz_dir_alias", "target_dir", "link_inside_folder_again", "skipped:loop")

    # -- sparse, unreadable ---------------------------------------------------------------------------
    sparse = t.add("big/sparse.txt", "sparse_2gb", "failed")
    with open(sparse, "wb") as handle:
        handle.truncate(2 * 1024**3)
    for i in range(3):
        path = t.add(f"locked/secret{i}.png", "unreadable_file", "stored" if IS_ROOT else "failed", _png(50 + i))
        os.chmod(path, 0)
    path = t.add("locked/note.md", "unreadable_file", "stored" if IS_ROOT else "failed", b"locked note")
    os.chmod(path, 0)
    t.add("locked_dir/inner.png", "in_unreadable_folder", "indexed" if IS_ROOT else "skipped:unreadable", _png(55))
    os.chmod(root / "locked_dir", 0)

    # -- deep and long -----------------------------------------------------------------------------------
    deep = "/".join(["d"] * 300)
    t.add(f"deep/{deep}/bottom.md", "folder_300_deep", "indexed", b"at the bottom of three hundred folders")
    long_ascii = "L" * 251 + ".png"
    t.add(f"long/{long_ascii}", "name_255_bytes", "indexed", _png(60))
    accented, emoji = "\u00e9" * 126, "\U0001f600" * 62
    t.add(f"long/{accented}.md", "name_255_bytes_utf8", "indexed", "long accented name".encode())
    t.add(f"long/{emoji}.txt", "name_255_bytes_emoji", "indexed", b"emoji name")
    # a chain of 255-byte folder names past PATH_MAX: the folder where the path gets too long
    # cannot be listed and is skipped as unreadable
    fd = os.open(root, os.O_RDONLY)
    os.mkdir("toolong", dir_fd=fd)
    cur = os.open("toolong", os.O_RDONLY, dir_fd=fd)
    os.close(fd)
    for _ in range(20):
        os.mkdir("n" * 255, dir_fd=cur)
        nxt = os.open("n" * 255, os.O_RDONLY, dir_fd=cur)
        os.close(cur)
        cur = nxt
    out = os.open("bottom.md", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=cur)
    os.write(out, b"too deep to name")
    os.close(out)
    os.close(cur)
    t.entries.append(Entry(str(root / "toolong" / "/".join(["n" * 255] * 20) / "bottom.md"),
                           "path_over_path_max", "skipped:unreadable"))

    # -- names -------------------------------------------------------------------------------------------
    for i, raw in enumerate([b"bad\xff\xfename.png", b"\xc3\x28.png", b"\xed\xa0\x80surrogate.png",
                             b"latin1_caf\xe9.md", b"\x80\x81\x82.txt"]):
        data = _png(70 + i) if raw.endswith(b".png") else b"a note with an undecodable name"
        t.add(b"names/" + raw, "invalid_utf8_name", "indexed", data)
    for i, name in enumerate(["new\nline.png", "tab\there.md", "esc\x1b[31mred.txt", "carriage\rreturn.png",
                              "bidi\u202egnp.txt", "bell\x07.md", "del\x7f.png"]):
        t.add(f"names/{name}", "control_char_name", "indexed",
              _png(80 + i) if name.endswith(".png") else b"a note with a control character in its name")
    t.add("names/ spaces .png", "space_name", "indexed", _png(90))
    t.add("names/-rf.md", "dash_name", "indexed", b"a name that looks like an option")

    # -- skipped by policy -------------------------------------------------------------------------------
    for name in (".hidden.png", ".secret.md", ".DS_Store"):
        t.add(f"policy/{name}", "hidden", "skipped:hidden", b"x")
    t.add("policy/.hidden_dir/inside.png", "in_hidden_folder", "skipped:hidden", _png(91))
    for name in ("program.exe", "sheet.xlsx", "noextension", "archive.tar.gz", "photo.PNG.bak"):
        t.add(f"policy/{name}", "unsupported_extension", "skipped:unsupported", rnd(64))
    t.add("policy/folder.png/inside.md", "folder_named_like_image", "indexed", b"a folder named .png")
    t.add("policy/talk.srt", "orphan_sidecar", "skipped:unsupported", b"1\n00:00:00,000 --> 00:00:01,000\nhi\n")

    # -- documents: bombs, locked files, junk with the right name (issue 22) ----------------------------
    _documents(t, root)
    _raw_photos(t, root)

    # -- multiply: many copies of cheap hostile kinds, so that there are well over 300 -------------------
    for i in range(40):
        t.add(f"bulk/zero{i}.png", "zero_byte", "skipped:empty", b"")
        t.add(f"bulk/noise{i}.jpg", "magic_noise_jpg", "failed", b"\xff\xd8\xff\xe0" + rnd(64))
    for i in range(30):
        path = t.add(f"bulk/pipe{i}.txt", "fifo", "skipped:special")
        os.mkfifo(path)
    for i in range(30):
        t.link(f"bulk/dangling{i}.md", f"gone{i}.md", "dangling_link", "skipped:dangling")
    return t.entries


def _documents(t: "_Tree", root: Path) -> None:
    import document_maker as dm

    made = root / "documents"
    made.mkdir()
    t.entries.append(Entry(str(dm.make_pdf(made / "good.pdf", ["a page about lighthouses", "and another"])),
                           "good_pdf", "indexed"))
    t.entries.append(Entry(str(dm.make_docx(made / "good.docx", ["a paragraph about gardens"])), "good_docx", "indexed"))
    t.entries.append(Entry(str(dm.make_epub(made / "good.epub", ["a chapter"])), "good_epub", "indexed"))
    t.entries.append(Entry(str(dm.make_html(made / "good.html", "a saved article")), "good_html", "indexed"))
    for name, make, kind in (
        ("bomb.docx", lambda p: dm.zip_bomb_docx(p, 24 * 1024 * 1024), "zip_bomb"),
        ("lying.docx", dm.lying_zip_docx, "zip_lying_sizes"),
        ("laughs.docx", dm.billion_laughs_docx, "xml_entity_bomb"),
        ("xxe.docx", dm.external_entity_docx, "xml_external_entity"),
        ("locked.docx", dm.ole_docx, "encrypted_office"),
        ("locked.pdf", lambda p: dm.make_pdf(p, ["secret"], password="pw"), "encrypted_pdf"),
        ("pages.pdf", dm.many_pages_pdf, "absurd_page_count"),
        ("deep.rtf", dm.deep_rtf, "rtf_nesting_bomb"),
        ("drm.epub", lambda p: dm.make_epub(p, ["locked"], encrypted=True), "drm_epub"),
    ):
        t.entries.append(Entry(str(make(made / name)), kind, "failed"))
    for ext in ("pdf", "docx", "pptx", "epub", "odt"):
        t.add(f"documents/noise.{ext}", f"document_noise_{ext}", "failed", t.rng.randbytes(3000))
        t.add(f"documents/truncated.{ext}", f"document_truncated_{ext}", "failed",
              (made / ("good.pdf" if ext == "pdf" else "good.docx")).read_bytes()[:300])


def _raw_photos(t: "_Tree", root: Path) -> None:
    """A real DNG, then camera RAW files that are noise, cut short, or claim a 3.6-gigapixel sensor."""
    import struct

    from raw_maker import write_dng

    made = root / "raw"
    made.mkdir()
    good = write_dng(made / "good.dng", Image.open(io.BytesIO(_jpeg(90))).resize((256, 192)), preview_side=None)
    t.entries.append(Entry(str(good), "good_raw", "indexed"))
    for ext in ("dng", "cr2", "cr3", "nef", "arw", "orf", "rw2", "raf"):
        t.add(f"raw/noise.{ext}", f"raw_noise_{ext}", "failed", t.rng.randbytes(3000))
    data = good.read_bytes()
    t.add("raw/truncated.dng", "raw_truncated", "failed", data[:-200])
    liar = bytearray(data)
    first = struct.unpack("<I", liar[4:8])[0]
    for k in range(struct.unpack("<H", liar[first:first + 2])[0]):
        at = first + 2 + 12 * k
        if struct.unpack("<H", liar[at:at + 2])[0] in (0x100, 0x101):  # ImageWidth, ImageLength
            liar[at + 8:at + 12] = struct.pack("<I", 60000)
    t.add("raw/huge_sensor.dng", "raw_sensor_bomb", "failed", bytes(liar))


if __name__ == "__main__":
    built = build(Path(sys.argv[1]))
    kinds = sorted({e.kind for e in built})
    print(f"{len(built)} entries of {len(kinds)} kinds under {sys.argv[1]}")
