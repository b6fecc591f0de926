"""A camera RAW photo on the page, in Chromium: its result shows a thumbnail, and the viewer
shows the picture the server decoded (its largest thumbnail), since no browser draws a DNG."""

from __future__ import annotations

import urllib.parse

from PIL import Image

from browser_kit import require_browser, serve
from conftest import SAMPLES
from raw_maker import write_dng

require_browser()

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


def test_the_viewer_shows_a_raw_photo_decoded_by_the_server(browser, settings, tmp_path):
    from searchengine import SearchEngine

    media = tmp_path / "card"
    media.mkdir()
    photo = Image.open(SAMPLES / "images" / "rocket.jpg").convert("RGB")
    write_dng(media / "DSC_0001.dng", photo.resize((1280, 854)), preview_side=None, orientation=6)
    engine = SearchEngine.open("rawpage", settings=settings.with_(ocr="off"))
    try:
        assert engine.index([media]).failed == 0
        for url in serve(engine):
            browser.get(url + "?" + urllib.parse.urlencode({"q": "a rocket"}))
            wait = WebDriverWait(browser, 20)
            hit = wait.until(lambda b: b.find_element(By.CSS_SELECTOR, "#results .hit img"))
            wait.until(lambda b: b.execute_script("return arguments[0].complete && arguments[0].naturalWidth", hit) > 0)
            hit.click()
            img = wait.until(lambda b: b.find_element(By.CSS_SELECTOR, "#viewer-body .viewer-picture img"))
            wait.until(lambda b: b.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img) > 0)
            assert "/thumbnail?size=512" in img.get_attribute("src")
            width, height = browser.execute_script("return [arguments[0].naturalWidth, arguments[0].naturalHeight]", img)
            assert height == 512 and 330 < width < 350  # the 512 px thumbnail, upright (the camera was turned)
    finally:
        engine.close()
