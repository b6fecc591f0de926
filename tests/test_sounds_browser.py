"""A sound hit on the web page plays its recording from the moment the sound is heard
(headless Chromium, as tests/test_browser.py). The recording is made here (a tone in
silence, a sidecar transcript so no speech recognition runs), not the benchmark's mixes."""

from __future__ import annotations

import pytest

from browser_kit import serve
from test_browser import search_for, wait  # noqa: F401
from test_sounds import RATE, _model_or_skip, tone, write_wav
from selenium.webdriver.common.by import By  # noqa: E402

import numpy as np

ONSET = 4.2  # the second the tone starts in the 10-second recording


@pytest.fixture
def sound_server(settings, tmp_path):
    _model_or_skip()
    from searchengine import SearchEngine

    folder = tmp_path / "media"
    folder.mkdir()
    track = np.zeros(int(10 * RATE), np.float32)
    track[int(ONSET * RATE) : int((ONSET + 1.5) * RATE)] = tone(1.5)
    write_wav(folder / "workshop.wav", track)
    (folder / "workshop.srt").write_text("1\n00:00:00,000 --> 00:00:01,000\n(no speech)\n")
    with SearchEngine.open("sound-page", settings=settings.with_(sounds="on")) as engine:
        report = engine.index([folder], progress=False)
        assert report.failed == 0 and report.sound_events == 1
        yield from serve(engine)


def test_a_sound_hit_plays_the_recording_from_its_moment(browser, sound_server):
    search_for(browser, sound_server, "beep", modality="audio")
    hit = browser.find_elements(By.CSS_SELECTOR, "#results .hit")[0]
    assert hit.find_element(By.CSS_SELECTOR, ".name").text == "workshop.wav"
    assert hit.get_attribute("data-kind") == "sound"
    assert "heard at 0:04" in hit.find_element(By.CSS_SELECTOR, ".when").text
    audio = hit.find_element(By.TAG_NAME, "audio")
    start = float(audio.get_attribute("data-start"))
    assert abs(start - ONSET) < 0.15  # the hit's moment: where the tone rises
    # the player stands at the moment before anyone presses play
    wait(browser).until(lambda b: b.execute_script("return arguments[0].readyState >= 1", audio))
    assert abs(browser.execute_script("return arguments[0].currentTime", audio) - start) < 0.5
    # moved away (a listener scrubbed back to the start), "Play from" plays from the moment again
    browser.execute_script("arguments[0].currentTime = 0", audio)
    play = hit.find_element(By.CSS_SELECTOR, "button.play")
    assert "0:04" in play.text
    play.click()
    wait(browser).until(lambda b: b.execute_script("return !arguments[0].paused && arguments[0].currentTime > 0", audio))
    now = browser.execute_script("return arguments[0].currentTime", audio)
    assert start - 0.1 <= now <= start + 3
    browser.execute_script("arguments[0].pause()", audio)
