"""Camera RAW photos (issue 22): read with rawpy/LibRaw - the embedded preview first, a
half-size demosaic when there is none - upright, with the image vector of the camera's JPEG
twin (offline profile), their date, place and camera, thumbnails, and clear refusals.

No RAW sample ships and nothing is downloaded: the DNGs are written here (tests/raw_maker.py)
from the project's sample photos, a real Bayer mosaic that LibRaw really decodes."""

from __future__ import annotations

import io
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import CACHE_DIR, SAMPLES
from raw_maker import write_dng
from searchengine.errors import MediaDecodeError, MediaTooLargeError
from searchengine.media.formats.registry import format_of, modality_of
from searchengine.media.images import load_image
from searchengine.media.photo_facts import read_photo_facts

KYOTO = (35.0116, 135.7681)


def _photo(name: str, scale: int = 2) -> Image.Image:
    """A sample photo at ``scale`` times its size (a sensor has more pixels than the samples)."""
    img = Image.open(SAMPLES / "images" / name).convert("RGB")
    return img.resize((img.width * scale, img.height * scale), Image.Resampling.BICUBIC)


def _close(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference (0-255) of two pictures at ``a``'s size."""
    b = b.resize(a.size, Image.Resampling.BILINEAR)
    return float(np.abs(np.asarray(a, dtype=np.float32) - np.asarray(b, dtype=np.float32)).mean())


@pytest.mark.parametrize("ext", [".dng", ".CR2", ".cr3", ".nef", ".arw", ".orf", ".rw2", ".raf"])
def test_raw_extensions_are_photos(ext):
    assert modality_of(Path("IMG_0001" + ext)) == "image" and format_of("x" + ext).name == "raw"


def test_the_embedded_preview_is_read_first(tmp_path):
    photo = _photo("rocket.jpg")  # 1280 x 854
    path = write_dng(tmp_path / "a.dng", photo, preview_side=1024)
    img = load_image(path)
    assert img.size == (1024, 683)  # the preview's size: the mosaic (1280 wide) was not demosaicked
    assert _close(img, photo) < 4


def test_without_a_preview_the_mosaic_is_demosaicked_at_half_size(tmp_path):
    photo = _photo("rocket.jpg")
    path = write_dng(tmp_path / "a.dng", photo, preview_side=None)
    img = load_image(path)
    assert img.size == (640, 427)  # half the sensor
    assert _close(img, photo) < 12  # the colours and light of the photo, not a grey mosaic
    for channel in range(3):  # each colour in its place (R, G and B not swapped)
        ours = np.asarray(img)[..., channel].astype(np.float32).mean()
        theirs = np.asarray(photo.resize(img.size))[..., channel].astype(np.float32).mean()
        assert abs(ours - theirs) < 12


def test_a_preview_too_small_to_use_is_passed_over(tmp_path):
    path = write_dng(tmp_path / "a.dng", _photo("rocket.jpg"), preview_side=160)
    assert load_image(path).size == (640, 427)


@pytest.mark.parametrize("preview_side", [1024, None], ids=["preview", "demosaic"])
def test_the_recorded_orientation_is_applied(tmp_path, preview_side):
    photo = _photo("rocket.jpg")
    path = write_dng(tmp_path / "a.dng", photo, preview_side=preview_side, orientation=6)  # turned on its side
    img = load_image(path)
    assert img.height > img.width
    upright = photo.transpose(Image.Transpose.ROTATE_270)  # 90 degrees clockwise
    assert _close(img, upright) < 12 and _close(img, photo.resize((img.width, img.height))) > 2 * _close(img, upright)


def test_thumbnails_of_a_raw_photo(tmp_path):
    from searchengine.http.thumbnails import thumbnail
    from searchengine.media.hashing import stream_hash
    from searchengine.media.regular import open_regular

    path = write_dng(tmp_path / "a.dng", _photo("chelsea.png"), preview_side=None)
    with open_regular(path) as source:
        digest = stream_hash(source)
        source.seek(0)
        made = thumbnail(source, digest, 256, tmp_path / "thumbs")
    with Image.open(made) as thumb:
        assert thumb.format == "JPEG" and max(thumb.size) == 256


@pytest.fixture(scope="module")
def encoder():
    from searchengine.encoders.registry import load_encoder

    return load_encoder("offline:e5-effnet", cache_dir=CACHE_DIR)  # exported once a test session


@pytest.mark.parametrize("name", ["rocket.jpg", "chelsea.png", "coffee.png", "astronaut.png"])
def test_the_raw_has_the_image_vector_of_its_jpeg_twin(tmp_path, encoder, name):
    from searchengine.encoders.base import encode_images

    photo = _photo(name)
    twin = tmp_path / "twin.jpg"
    photo.save(twin, quality=92)  # what the camera wrote next to the RAW
    preview = write_dng(tmp_path / "preview.dng", photo, preview_side=1024)
    mosaic = write_dng(tmp_path / "mosaic.dng", photo, preview_side=None)
    vectors = encode_images(encoder, [load_image(twin), load_image(preview), load_image(mosaic)])
    assert float(vectors[0] @ vectors[1]) >= 0.95
    assert float(vectors[0] @ vectors[2]) >= 0.95


def test_date_place_and_camera_come_from_the_raws_exif(tmp_path):
    path = write_dng(tmp_path / "k.dng", _photo("horse.png", 1), make="NIKON CORPORATION", model="NIKON Z 6",
                     taken="2019:07:14 18:30:00", offset="+09:00", gps=KYOTO)
    facts = read_photo_facts(path)
    assert facts.camera == "NIKON Z 6"  # the make is not repeated
    assert facts.taken_ns == 1563096600 * 10**9  # 18:30 at +09:00 is 09:30 UTC
    assert abs(facts.latitude - KYOTO[0]) < 1e-4 and abs(facts.longitude - KYOTO[1]) < 1e-4


def _tiff_with_exif(magic: bytes = b"II*\0") -> bytes:
    """A TIFF structure (of any magic number) with a camera and an EXIF date, as Pillow writes it."""
    exif = Image.Exif()
    exif.endian = "<"  # as these cameras write it (II)
    exif[0x010F], exif[0x0110] = "OLYMPUS CORPORATION", "E-M1MarkII"
    exif[0x8769] = {0x9003: "2021:03:20 08:15:00", 0x9011: "+08:00"}
    data = exif.tobytes()  # b"Exif\0\0" + TIFF
    return magic + data[6 + 4:]


def test_exif_of_orf_rw2_raf_and_cr3_layouts(tmp_path):
    """The header layouts of the other makers, written by hand: Olympus' and Panasonic's TIFF
    with their own magic numbers, Fujifilm's RAF (EXIF in its JPEG preview) and Canon's CR3
    (ISO media boxes CMT1/CMT2 holding TIFF structures)."""
    taken = 1616199300 * 10**9  # 2021-03-20 08:15 at +08:00
    (tmp_path / "a.orf").write_bytes(_tiff_with_exif(b"IIRO"))
    (tmp_path / "a.rw2").write_bytes(_tiff_with_exif(b"IIU\0"))
    jpeg = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "FUJIFILM", "X-T4"
    exif[0x8769] = {0x9003: "2021:03:20 08:15:00", 0x9011: "+08:00"}
    Image.new("RGB", (64, 48), "gray").save(jpeg, format="JPEG", exif=exif)
    head = b"FUJIFILMCCD-RAW 0201FF383501".ljust(84, b"\0")
    (tmp_path / "a.raf").write_bytes(head + struct.pack(">II", 100, len(jpeg.getvalue())) + b"\0" * 8
                                     + jpeg.getvalue())
    exif_only = Image.Exif()
    exif_only[0x9003], exif_only[0x9011] = "2021:03:20 08:15:00", "+08:00"
    cmt2 = exif_only.tobytes()[6:]
    main_ifd = Image.Exif()
    main_ifd[0x010F], main_ifd[0x0110] = "Canon", "Canon EOS R6"
    cmt1 = main_ifd.tobytes()[6:]

    def box(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", 8 + len(body)) + kind + body

    (tmp_path / "a.cr3").write_bytes(box(b"ftyp", b"crx \0\0\0\1crx isom")
                                     + box(b"moov", box(b"uuid", b"\x85\xc0\xb6\x87\x82\x0f\x11\xe0\x81\x11\xf4\xce\x46\x2b\x6a\x48"
                                                        + box(b"CMT1", cmt1) + box(b"CMT2", cmt2))))
    expected = {"a.orf": "OLYMPUS CORPORATION E-M1MarkII", "a.rw2": "OLYMPUS CORPORATION E-M1MarkII",
                "a.raf": "FUJIFILM X-T4", "a.cr3": "Canon EOS R6"}
    for name, camera in expected.items():
        facts = read_photo_facts(tmp_path / name)
        assert (facts.camera, facts.taken_ns) == (camera, taken), name


def test_broken_and_oversized_raws_are_refused_naming_the_file(tmp_path):
    junk = tmp_path / "broken.nef"
    junk.write_bytes(b"II*\0" + b"\x07" * 4000)
    with pytest.raises(MediaDecodeError, match="broken.nef"):
        load_image(junk)
    assert not read_photo_facts(junk)  # no facts, never an error
    big = write_dng(tmp_path / "big.dng", _photo("rocket.jpg"), preview_side=None)
    with pytest.raises(MediaTooLargeError, match="big.dng.*million"):
        load_image(big, max_pixels=500_000)
    with pytest.raises(MediaTooLargeError, match="big.dng.*demosaicking"):
        load_image(big, max_bytes=1_000_000)


def test_raw_photos_are_indexed_found_and_placed(offline_settings, encoder, tmp_path):
    from searchengine import SearchEngine
    from searchengine.query.filters import SearchFilters

    folder = tmp_path / "card"
    folder.mkdir()
    write_dng(folder / "DSC_0001.dng", _photo("rocket.jpg"), preview_side=None, taken="2019:07:14 18:30:00",
              offset="+09:00", gps=KYOTO)
    write_dng(folder / "DSC_0002.dng", _photo("chelsea.png"), preview_side=1024, orientation=6)
    shutil.copy(SAMPLES / "images" / "coffee.png", folder / "coffee.png")
    settings = offline_settings.with_(index_root=tmp_path / "indexes", model="offline:e5-effnet")
    with SearchEngine.open("raw", settings=settings) as engine:
        report = engine.index([folder])
        assert report.failed == 0, report.failures
        assert engine.search("a space rocket", k=1, modality="image")[0].path == str(folder / "DSC_0001.dng")
        assert engine.search("a cat", k=1, modality="image")[0].path == str(folder / "DSC_0002.dng")
        assert engine.search("Kyoto", k=1)[0].path == str(folder / "DSC_0001.dng")
        kyoto = {Path(h.path).name for h in engine.search("a photo", k=10, filters=SearchFilters.of(place="Japan"))}
        assert kyoto == {"DSC_0001.dng"}
        canon = {Path(h.path).name for h in engine.search("a photo", k=10, filters=SearchFilters.of(camera="EOS R5"))}
        assert canon == {"DSC_0001.dng", "DSC_0002.dng"}


def test_a_raw_photo_uploaded_as_the_query_is_read_by_libraw(offline_settings, encoder, tmp_path):
    """An upload is named by its file name: a .dng goes to LibRaw, as it does when indexed (Pillow
    would open the DNG's TIFF structure and see only the small thumbnail in its first IFD)."""
    from fastapi.testclient import TestClient

    from searchengine import SearchEngine
    from searchengine.http.app import create_app

    folder = tmp_path / "card"
    folder.mkdir()
    write_dng(folder / "rocket.dng", _photo("rocket.jpg"), preview_side=None)
    shutil.copy(SAMPLES / "images" / "chelsea.png", folder / "cat.png")
    shutil.copy(SAMPLES / "images" / "coffee.png", folder / "coffee.png")
    settings = offline_settings.with_(index_root=tmp_path / "indexes", model="offline:e5-effnet")
    with SearchEngine.open("raw-upload", settings=settings) as engine:
        assert engine.index([folder]).failed == 0
        client = TestClient(create_app(engine), base_url="http://127.0.0.1")
        data = (folder / "rocket.dng").read_bytes()
        response = client.post("/api/search/image", files={"file": ("DSC_0001.DNG", data)}, data={"k": "3"})
        assert response.status_code == 200, response.text
        top = response.json()["hits"][0]
        assert top["name"] == "rocket.dng" and top["score"] == pytest.approx(1.0, abs=1e-3)
