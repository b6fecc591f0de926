"""The web page plays a video hit from the second its key frame is seen (headless Chromium,
as tests/test_browser.py; VP9 in WebM, which Chromium plays without proprietary codecs)."""

from __future__ import annotations


import pytest

from browser_kit import serve
from test_browser import wait  # skips without Chromium
from video_maker import make_video, scene_picture
from selenium.webdriver.common.by import By  # noqa: E402


@pytest.fixture
def video_server(open_engine, tmp_path):
    media = tmp_path / "media"
    make_video(media / "silent.webm", [(3.0, 11), (3.0, 12), (3.0, 13)], codec="libvpx-vp9", size=(320, 192))
    engine = open_engine("browser-videos")
    assert engine.index([media]).failed == 0
    yield from serve(engine)


def test_an_image_query_plays_the_video_from_the_second_it_is_seen(browser, video_server, tmp_path):
    still = tmp_path / "still.png"
    scene_picture(12, (320, 192)).save(still)
    browser.get(video_server)
    browser.find_element(By.ID, "image-file").send_keys(str(still))
    wait(browser).until(lambda b: "this image" in b.find_element(By.ID, "status").text)
    hit = browser.find_elements(By.CSS_SELECTOR, "#results .hit")[0]
    assert hit.find_element(By.CSS_SELECTOR, ".name").text == "silent.webm"
    assert hit.get_attribute("data-modality") == "video"
    assert "seen at 0:03.0" in hit.find_element(By.CSS_SELECTOR, ".when").text
    video = hit.find_element(By.TAG_NAME, "video")
    start = float(video.get_attribute("data-start"))
    assert abs(start - 3.0) < 0.25
    # the player is put at that second before anyone presses play (the #t= fragment)
    wait(browser).until(lambda b: b.execute_script("return arguments[0].readyState >= 1", video))
    at = browser.execute_script("return arguments[0].currentTime", video)
    assert abs(at - start) < 0.5
    hit.find_element(By.CSS_SELECTOR, "button.play").click()
    wait(browser).until(lambda b: b.execute_script("return !arguments[0].paused && arguments[0].currentTime > 0", video))
    now = browser.execute_script("return arguments[0].currentTime", video)
    assert start - 0.5 <= now <= start + 5
    # opened in the viewer, it plays from that second too
    browser.execute_script("arguments[0].pause()", video)
    hit.find_element(By.CSS_SELECTOR, ".name").click()
    big = wait(browser).until(lambda b: b.find_element(By.CSS_SELECTOR, "#viewer-body video"))
    wait(browser).until(lambda b: b.execute_script("return arguments[0].readyState >= 1 && arguments[0].currentTime > 0", big))
    at = browser.execute_script("return arguments[0].currentTime", big)
    assert start - 0.5 <= at <= start + 5
    assert browser.execute_script("return arguments[0].clientWidth", big) >= 320
    browser.find_element(By.ID, "viewer-close").click()
