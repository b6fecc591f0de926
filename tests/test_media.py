import os

import numpy as np
import pytest
from PIL import Image

from conftest import make_image
from searchengine.errors import InvalidInputError, MediaDecodeError
from searchengine.media.discover import walk_media
from searchengine.media.images import load_image, load_query_image


def test_walk_finds_media_skips_hidden_unknown_and_excluded(tmp_path):
    make_image(tmp_path / "a.jpg", 1)
    make_image(tmp_path / "sub dir" / "ünïcode ✓.png", 2)
    (tmp_path / "notes.md").write_text("hello")
    (tmp_path / "data.bin").write_bytes(b"\x00\x01")
    make_image(tmp_path / ".hidden" / "secret.png", 3)
    make_image(tmp_path / "indexes" / "thumb.png", 4)
    found = {f.path.relative_to(tmp_path).as_posix(): f.modality
             for f in walk_media([tmp_path], exclude=[tmp_path / "indexes"])}
    assert found == {"a.jpg": "image", "sub dir/ünïcode ✓.png": "image", "notes.md": "text"}


def test_walk_survives_symlink_loops_and_reports_each_file_once(tmp_path):
    make_image(tmp_path / "photos" / "x.png", 1)
    os.symlink(tmp_path, tmp_path / "photos" / "loop")
    os.symlink(tmp_path / "photos" / "x.png", tmp_path / "alias.png")
    os.symlink(tmp_path / "nowhere.png", tmp_path / "dangling.png")
    found = list(walk_media([tmp_path]))
    assert len(found) == 1


def test_exif_orientation_is_applied(tmp_path):
    img = Image.new("RGB", (60, 20), "red")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    img.save(tmp_path / "rot.jpg", exif=exif)
    assert load_image(tmp_path / "rot.jpg").size == (20, 60)


@pytest.mark.parametrize("fmt,ext", [("GIF", "gif"), ("BMP", "bmp"), ("TIFF", "tif"), ("WEBP", "webp"), ("PNG", "png")])
def test_formats_decode_to_rgb(tmp_path, fmt, ext):
    path = make_image(tmp_path / f"x.{ext}", 5, fmt=fmt)
    out = load_image(path)
    assert out.mode == "RGB" and out.size == (48, 40)


def test_animated_gif_gives_first_frame(tmp_path):
    frames = [Image.new("RGB", (10, 10), c) for c in ("red", "blue")]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    assert load_image(tmp_path / "anim.gif").getpixel((5, 5))[0] > 200


def test_heic_decodes_through_pillow_heif(tmp_path):
    pillow_heif = pytest.importorskip("pillow_heif")
    img = Image.fromarray((np.random.RandomState(0).rand(32, 32, 3) * 255).astype("uint8"))
    pillow_heif.from_pillow(img).save(tmp_path / "photo.heic")
    assert load_image(tmp_path / "photo.heic").size == (32, 32)


@pytest.mark.parametrize("content", [b"", b"this is text", b"\xff\xd8\xff\xe0" + b"\x00" * 20])
def test_bad_images_raise_decode_error_naming_the_file(tmp_path, content):
    path = tmp_path / "bad.jpg"
    path.write_bytes(content)
    with pytest.raises(MediaDecodeError, match="bad.jpg"):
        load_image(path)


def test_truncated_image_is_a_decode_error(tmp_path):
    good = make_image(tmp_path / "g.png", 1, size=(200, 200))
    data = good.read_bytes()
    (tmp_path / "t.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(MediaDecodeError, match="t.png"):
        load_image(tmp_path / "t.png")


def test_query_image_errors_are_input_errors(tmp_path):
    with pytest.raises(InvalidInputError, match="does not exist"):
        load_query_image(tmp_path / "nope.jpg")
    (tmp_path / "q.jpg").write_text("not an image")
    with pytest.raises(InvalidInputError, match="q.jpg"):
        load_query_image(tmp_path / "q.jpg")
