"""The indexing pipeline's decisions and reports: per-stage times, unavailable files kept,
deleted files removed."""

from __future__ import annotations

from sqlalchemy import text

from conftest import assert_consistent, make_image


def test_report_has_stage_times_and_skips(open_engine, tmp_path):
    media = tmp_path / "m"
    for i in range(5):
        make_image(media / f"{i}.png", seed=i)
    (media / "notes.xyz").write_text("not indexed")
    report = open_engine("stages").index([media])
    st = report.stages
    assert report.added == 5 and report.model_loaded
    assert st.plan > 0 and st.decode > 0 and st.preprocess > 0 and st.encode > 0 and st.write > 0
    assert any(p.endswith("notes.xyz") for p, _ in report.skipped)


def test_files_on_a_filesystem_that_is_gone_are_kept(open_engine, tmp_path):
    media = tmp_path / "m"
    for i in range(3):
        make_image(media / "usb" / f"{i}.png", seed=i)
    make_image(media / "local.png", seed=9)
    engine = open_engine("mounts")
    engine.index([media])
    # the files under usb/ were indexed from another device (a drive mounted there)
    with engine.repo.engine.begin() as conn:
        conn.execute(text("UPDATE media_files SET device = device + 12345 WHERE path LIKE '%/usb/%'"))
    for p in (media / "usb").iterdir():
        p.unlink()  # unmounted: the mount point is there, empty, on the parent's device
    (media / "local.png").unlink()  # deleted for real: same device as its folder
    report = engine.index([media])
    assert report.deleted == 1
    assert len(report.kept) == 3 and all("not mounted" in why for _, why in report.kept)
    left = sorted(engine.repo.files())
    assert len(left) == 3 and all("/usb/" in p for p in left)
    assert engine.repo.unit_count() == 3
    assert_consistent(engine)


def test_links_out_of_the_folder_are_followed_only_when_asked(open_engine, settings, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("the secret recipe for a chocolate cake")
    media = tmp_path / "m"
    make_image(media / "a.png", seed=1)
    (media / "recipe.txt").symlink_to(outside / "secret.txt")
    report = open_engine("boundary").index([media])
    assert report.added == 1
    assert any(p.endswith("recipe.txt") and "outside" in why for p, why in report.skipped)
    report = open_engine("boundary-open", settings=settings.with_(follow_symlinks_outside=True)).index([media])
    assert report.added == 2


def test_large_jpegs_decode_at_reduced_scale_for_the_model(tmp_path):
    import numpy as np
    from PIL import Image

    from searchengine.media.images import MAX_SIDE, load_image

    big = tmp_path / "big.jpg"
    rng = np.random.RandomState(0)
    Image.fromarray((rng.rand(30, 40, 3) * 255).astype("uint8")).resize((4000, 3000)).save(big, quality=90)
    full, drafted = load_image(big), load_image(big, min_side=224)
    assert max(full.size) == MAX_SIDE
    assert min(drafted.size) >= 224 and drafted.size[0] < full.size[0]  # 1/8 scale: 500x375
