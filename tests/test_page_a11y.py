"""The page's accessibility and error basics in Chromium, desktop and phone: one <h1>, alt
text from content, labelled players, distinct button names, upload errors styled as errors."""

from __future__ import annotations

import wave

import numpy as np
import pytest

from browser_kit import DESKTOP, PHONE, require_browser, screenshot_ok, serve
from conftest import make_image

require_browser()

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture(scope="module")
def base_url(tmp_path_factory, tiny_clip):
    from conftest import CACHE_DIR
    from searchengine import SearchEngine, Settings

    tmp = tmp_path_factory.mktemp("docs")
    for i in range(4):
        make_image(tmp / "media" / f"beach{i}.png", seed=i)
    with wave.open(str(tmp / "media" / "tour.wav"), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000)
        w.writeframes((np.sin(np.arange(16000 * 3) / 15) * 2000).astype("<i2").tobytes())
    (tmp / "media" / "tour.srt").write_text("1\n00:00:01,000 --> 00:00:02,500\nthe harbour crane at dawn\n")
    (tmp / "upload.txt").write_text("not a picture")
    engine = SearchEngine.open("d", settings=Settings(index_root=tmp / "idx", model=tiny_clip, cache_dir=CACHE_DIR,
                                                      ocr="off"))
    engine.index([tmp / "media"])
    for url in serve(engine):
        yield url.rstrip("/"), tmp
    engine.close()


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_page_names_things_and_shows_errors_as_errors(base_url, browser, size, tmp_path):
    url, tmp = base_url
    browser.set_window_size(*size)
    browser.get(f"{url}/?q=harbour%20crane")
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#results .hit"))
    assert len(browser.find_elements(By.TAG_NAME, "h1")) == 1
    player = WebDriverWait(browser, 10).until(lambda d: d.find_element(By.CSS_SELECTOR, "#results audio"))
    assert player.get_attribute("aria-label").startswith("Recording tour.wav, from ")
    play = browser.find_element(By.CSS_SELECTOR, "#results button.play")
    assert play.get_attribute("aria-label").startswith("Play tour.wav from ")
    names = [b.get_attribute("aria-label") for b in browser.find_elements(By.CSS_SELECTOR, "#results button.similar")]
    assert len(names) >= 2 and len(set(names)) == len(names) and all(n.startswith("More like ") for n in names)
    alts = [i.get_attribute("alt") for i in browser.find_elements(By.CSS_SELECTOR, "#results img")]
    assert alts and all(a.startswith("Photo ") for a in alts)
    screenshot_ok(browser, tmp_path / "results.png", size[0])

    browser.find_element(By.ID, "image-file").send_keys(str(tmp / "upload.txt"))
    status = WebDriverWait(browser, 20).until(
        lambda d: d.find_element(By.CSS_SELECTOR, "#status.error"))
    assert status.is_displayed() and status.text and status.get_attribute("role") == "alert"
    assert status.value_of_css_property("color") in ("rgba(176, 0, 32, 1)", "rgb(176, 0, 32)")
    screenshot_ok(browser, tmp_path / "error.png", size[0])
