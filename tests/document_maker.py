"""Documents made for tests and benchmarks, written here from their parts (no files from the
internet): Office files and e-books as hand-built zips of their XML, PDFs with reportlab (a
scanned page is a picture of text drawn into the page), and the bombs a hostile folder holds."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

from PIL import Image, ImageDraw

from searchengine.evaluation.rendered_text import find_fonts

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
A = "http://schemas.openxmlformats.org/drawingml/2006/main"
P = "http://schemas.openxmlformats.org/presentationml/2006/main"
R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def _zip(path: Path, members: dict[str, str | bytes], stored: tuple[str, ...] = ()) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(zipfile.ZipInfo(name) if name in stored else name,
                       data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


def docx_xml(paragraphs: list[str]) -> str:
    body = "".join(f'<w:p><w:r><w:t xml:space="preserve">{escape(p)}</w:t></w:r></w:p>' for p in paragraphs)
    return f'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="{W}"><w:body>{body}</w:body></w:document>'


def make_docx(path: Path, paragraphs: list[str]) -> Path:
    return _zip(path, {"[Content_Types].xml": "<Types/>", "word/document.xml": docx_xml(paragraphs)})


def make_pptx(path: Path, slides: list[list[str]]) -> Path:
    members: dict[str, str | bytes] = {"[Content_Types].xml": "<Types/>"}
    ids, rels = [], []
    for i, lines in enumerate(slides, 1):
        paras = "".join(f"<a:p><a:r><a:t>{escape(t)}</a:t></a:r></a:p>" for t in lines)
        members[f"ppt/slides/slide{i}.xml"] = (
            f'<p:sld xmlns:p="{P}" xmlns:a="{A}"><p:cSld><p:spTree><p:sp><p:txBody>{paras}'
            "</p:txBody></p:sp></p:spTree></p:cSld></p:sld>")
        ids.append(f'<p:sldId id="{255 + i}" r:id="rId{i + 10}"/>')
        rels.append(f'<Relationship Id="rId{i + 10}" Type="slide" Target="slides/slide{i}.xml"/>')
    # listed in reverse file order: the deck's order is the presentation's, not the files'
    members["ppt/presentation.xml"] = (f'<p:presentation xmlns:p="{P}" xmlns:r="{R}"><p:sldIdLst>'
                                       f'{"".join(ids)}</p:sldIdLst></p:presentation>')
    members["ppt/_rels/presentation.xml.rels"] = (
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f'{"".join(reversed(rels))}</Relationships>')
    return _zip(path, members)


def make_odt(path: Path, paragraphs: list[str]) -> Path:
    body = "".join(f"<text:p>{escape(p)}</text:p>" for p in paragraphs)
    content = ('<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
               'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body><office:text>'
               f"{body}</office:text></office:body></office:document-content>")
    return _zip(path, {"mimetype": "application/vnd.oasis.opendocument.text", "content.xml": content})


def make_epub(path: Path, chapters: list[str], *, encrypted: bool = False) -> Path:
    members: dict[str, str | bytes] = {
        "mimetype": "application/epub+zip",
        "META-INF/container.xml": ('<container xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
                                   '<rootfile full-path="OEBPS/content.opf"/></rootfiles></container>'),
    }
    items, refs = [], []
    for i, text in enumerate(chapters, 1):
        members[f"OEBPS/ch{i}.xhtml"] = (
            f'<html xmlns="http://www.w3.org/1999/xhtml"><head><title>Chapter {i}</title></head><body>'
            f"<nav>Contents | Next</nav><h1>Chapter {i}</h1><p>{escape(text)}</p></body></html>")
        items.append(f'<item id="c{i}" href="ch{i}.xhtml" media-type="application/xhtml+xml"/>')
        refs.append(f'<itemref idref="c{i}"/>')
    members["OEBPS/content.opf"] = (f'<package xmlns="http://www.idpf.org/2007/opf"><manifest>{"".join(items)}'
                                    f'</manifest><spine>{"".join(refs)}</spine></package>')
    if encrypted:
        members["META-INF/encryption.xml"] = (
            '<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container" '
            'xmlns:enc="http://www.w3.org/2001/04/xmlenc#"><enc:EncryptedData/></encryption>')
    return _zip(path, members)


def make_html(path: Path, main: str, *, noise: str = "Home | About | Contact | Subscribe") -> Path:
    path.write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>Saved page</title>"
        f"<style>body {{ color: red }}</style><script>var tracker = 'analytics';</script></head><body>"
        f"<header><nav>{escape(noise)}</nav></header><main><article><h1>Article</h1><p>{escape(main)}</p>"
        f"</article></main><aside>Related: {escape(noise)}</aside><footer>© 2026 {escape(noise)}</footer>"
        "</body></html>", encoding="utf-8")
    return path


def make_rtf(path: Path, paragraphs: list[str]) -> Path:
    def enc(s: str) -> str:
        return "".join(ch if ord(ch) < 128 and ch not in "\\{}" else
                       (f"\\{ch}" if ch in "\\{}" else f"\\u{ord(ch) if ord(ch) < 32768 else ord(ch) - 65536}?")
                       for ch in s)
    body = "".join(f"{enc(p)}\\par\n" for p in paragraphs)
    path.write_text("{\\rtf1\\ansi\\ansicpg1252\\deff0{\\fonttbl{\\f0 Times New Roman;}}"
                    "{\\colortbl;\\red0\\green0\\blue0;}{\\*\\generator Test;}\n" + body + "}", encoding="ascii")
    return path


def text_picture(text: str, size: tuple[int, int] = (1240, 1754), font_size: int = 44) -> Image.Image:
    """A white page with ``text`` on it in black (a scan), lines wrapped to fit."""
    chinese = any("\u4e00" <= ch <= "\u9fff" for ch in text)
    fonts = find_fonts(chinese=True) if chinese else (find_fonts(chinese=False) or find_fonts())
    font = fonts[0].load(font_size)
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    words, lines, line = (list(text) if chinese else text.split()), [], ""
    for w in words:
        trial = line + w if chinese or not line else line + " " + w
        if draw.textlength(trial, font=font) > size[0] - 200 and line:
            lines.append(line)
            line = w
        else:
            line = trial
    lines.append(line)
    for i, ln in enumerate(lines):
        draw.text((100, 150 + i * int(font_size * 1.6)), ln, fill="black", font=font)
    return img


def make_pdf(path: Path, pages: list[str | Image.Image], *, password: str | None = None) -> Path:
    """A PDF with one page per entry: a string is set as text (Chinese in the STSong-Light
    CID font), a picture is drawn filling the page (a scanned page: no text layer)."""
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    c = canvas.Canvas(str(path), pagesize=(595, 842), encrypt=password)
    for page in pages:
        if isinstance(page, Image.Image):
            c.drawImage(ImageReader(page), 0, 0, width=595, height=842)
        else:
            chinese = any("\u4e00" <= ch <= "\u9fff" for ch in page)
            c.setFont("STSong-Light" if chinese else "Helvetica", 12)
            y = 780
            for para in page.split("\n\n"):
                line = ""
                for piece in (list(para) if chinese else para.split()):
                    trial = line + piece if chinese or not line else line + " " + piece
                    if c.stringWidth(trial) > 480 and line:
                        c.drawString(60, y, line)
                        y -= 16
                        line = piece
                    else:
                        line = trial
                c.drawString(60, y, line)
                y -= 28
        c.showPage()
    c.save()
    return path


# -- bombs and junk -------------------------------------------------------------------------

def zip_bomb_docx(path: Path, unpacked: int = 200 * 1024 * 1024) -> Path:
    """A DOCX whose document.xml inflates ~1000:1 to ``unpacked`` bytes."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        with z.open("word/document.xml", "w", force_zip64=True) as member:
            block = b" " * (1024 * 1024)
            for _ in range(unpacked // len(block)):
                member.write(block)
    return path


def lying_zip_docx(path: Path) -> Path:
    """A DOCX whose member's header claims 100 bytes but inflates to 50 MB."""
    real = io.BytesIO()
    with zipfile.ZipFile(real, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("word/document.xml", b"<" + b"a" * (50 * 1024 * 1024) + b"/>")
    data = bytearray(real.getvalue())
    big = (50 * 1024 * 1024 + 3).to_bytes(4, "little")
    small = (100).to_bytes(4, "little")
    return _patch_sizes(path, data, big, small)


def _patch_sizes(path: Path, data: bytearray, big: bytes, small: bytes) -> Path:
    i = data.find(big)
    while i != -1:
        data[i:i + 4] = small
        i = data.find(big, i + 4)
    path.write_bytes(bytes(data))
    return path


def many_members_docx(path: Path, n: int = 30_000) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("word/document.xml", docx_xml(["many"]))
        for i in range(n):
            z.writestr(f"x/{i}", b"")
    return path


def billion_laughs_docx(path: Path) -> Path:
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
    xml = (f'<?xml version="1.0"?><!DOCTYPE w:document [{entities}]>'
           f'<w:document xmlns:w="{W}"><w:body><w:p><w:r><w:t>&lol9;</w:t></w:r></w:p></w:body></w:document>')
    return _zip(path, {"word/document.xml": xml})


def external_entity_docx(path: Path, target: str = "/etc/passwd") -> Path:
    xml = (f'<?xml version="1.0"?><!DOCTYPE w:document [<!ENTITY x SYSTEM "file://{target}">]>'
           f'<w:document xmlns:w="{W}"><w:body><w:p><w:r><w:t>&x;</w:t></w:r></w:p></w:body></w:document>')
    return _zip(path, {"word/document.xml": xml})


def ole_docx(path: Path) -> Path:
    """What an encrypted DOCX looks like: an OLE compound file, not a zip."""
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 4088)
    return path


def many_pages_pdf(path: Path, n: int = 100_000) -> Path:
    """A small PDF whose page tree lists one page ``n`` times (an absurd page count)."""
    objs = ["<< /Type /Catalog /Pages 2 0 R >>",
            f"<< /Type /Pages /Kids [{' '.join(['3 0 R'] * n)}] /Count {n} >>",
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>"]
    out, offsets = b"%PDF-1.4\n", []
    for i, o in enumerate(objs, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n{o}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    path.write_bytes(out)
    return path


def deep_rtf(path: Path, depth: int = 100_000) -> Path:
    path.write_bytes(b"{\\rtf1 " + b"{" * depth + b"x" + b"}" * depth + b"}")
    return path
