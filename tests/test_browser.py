"""The web page in a real browser: Debian's headless Chromium driven by Selenium through
Debian's chromedriver (no browser downloads). `.ci/run` installs both and sets
SEARCHENGINE_REQUIRE_BROWSER=1, so CI fails rather than skips when they are missing."""

import os
import socket
import threading
import time

import pytest

from conftest import SAMPLES

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"

if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
    if os.environ.get("SEARCHENGINE_REQUIRE_BROWSER"):
        raise RuntimeError("browser tests need Debian's chromium and chromium-driver packages")
    pytest.skip("Debian's chromium / chromium-driver are not installed", allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402


@pytest.fixture(scope="module")
def server(samples_engine):
    import uvicorn

    from searchengine.http.app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(create_app(samples_engine), host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not srv.started and time.time() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/"
    srv.should_exit = True
    thread.join(5)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--autoplay-policy=no-user-gesture-required", "--mute-audio",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_window_size(1280, 900)
    yield driver
    driver.quit()


def wait(browser, seconds=20):
    return WebDriverWait(browser, seconds)


def results(browser):
    return browser.find_elements(By.CSS_SELECTOR, "#results .hit")


def search_for(browser, server, text, modality=""):
    browser.get(server)
    Select(browser.find_element(By.ID, "modality")).select_by_value(modality)
    box = browser.find_element(By.ID, "q")
    box.clear()
    box.send_keys(text, Keys.ENTER)
    wait(browser).until(lambda b: "results for" in b.find_element(By.ID, "status").text)


def test_type_a_query_and_see_thumbnails(browser, server):
    search_for(browser, server, "a cat")
    first = results(browser)[0]
    assert first.find_element(By.CSS_SELECTOR, ".name").text == "chelsea.png"
    img = first.find_element(By.TAG_NAME, "img")
    wait(browser).until(lambda b: b.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img) > 0)
    assert browser.execute_script("return arguments[0].naturalWidth", img) <= 256
    assert first.find_element(By.CSS_SELECTOR, ".score").text.startswith("0.")


def test_search_by_uploaded_image(browser, server):
    browser.get(server)
    browser.find_element(By.ID, "image-file").send_keys(str(SAMPLES / "images" / "rocket.jpg"))
    wait(browser).until(lambda b: "this image" in b.find_element(By.ID, "status").text)
    first = results(browser)[0]
    assert first.find_element(By.CSS_SELECTOR, ".name").text == "rocket.jpg"
    assert first.find_element(By.CSS_SELECTOR, ".score").text == "1.000"


def test_play_an_audio_hit_from_its_moment(browser, server):
    search_for(browser, server, "The Middle Ages brought calligraphy to perfection", modality="audio")
    hit = results(browser)[0]
    assert hit.find_element(By.CSS_SELECTOR, ".name").text == "printing-history.flac"
    assert "calligraphy" in hit.find_element(By.CSS_SELECTOR, ".passage mark").text.lower() or \
        "calligraphy" in hit.find_element(By.CSS_SELECTOR, ".passage").text.lower()
    audio = hit.find_element(By.TAG_NAME, "audio")
    start = float(audio.get_attribute("data-start"))
    assert abs(start - 20.18) < 3
    hit.find_element(By.CSS_SELECTOR, "button.play").click()
    wait(browser).until(lambda b: b.execute_script("return !arguments[0].paused && arguments[0].currentTime > 0", audio))
    now = browser.execute_script("return arguments[0].currentTime", audio)
    assert start - 0.5 <= now <= start + 10

    # the window's transcript lines, the matched one marked; a line plays from its own time
    lines = wait(browser).until(lambda b: hit.find_elements(By.CSS_SELECTOR, ".passage button.line"))
    current = hit.find_element(By.CSS_SELECTOR, ".passage button.line.current")
    assert "calligraphy" in current.text.lower()
    browser.execute_script("arguments[0].pause()", audio)
    lines[0].click()
    first_at = lines[0].find_element(By.CSS_SELECTOR, ".t").text
    minutes, seconds = first_at.split(":")
    expected = int(minutes) * 60 + float(seconds)
    wait(browser).until(lambda b: b.execute_script("return !arguments[0].paused", audio))
    now = browser.execute_script("return arguments[0].currentTime", audio)
    assert expected - 0.2 <= now <= expected + 5


def test_more_like_this_and_keyboard(browser, server):
    search_for(browser, server, "a cup of coffee", modality="image")
    first = results(browser)[0]
    assert first.find_element(By.CSS_SELECTOR, ".name").text == "coffee.png"
    first.find_element(By.CSS_SELECTOR, "button.similar").click()
    wait(browser).until(lambda b: "items like coffee.png" in b.find_element(By.ID, "status").text)
    names = [r.find_element(By.CSS_SELECTOR, ".name").text for r in results(browser)]
    assert "coffee.png" not in names and names
    browser.find_element(By.TAG_NAME, "body").send_keys("/")
    assert browser.switch_to.active_element == browser.find_element(By.ID, "q")


def test_page_loads_nothing_from_other_hosts(browser, server):
    browser.get(server)
    urls = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert urls and all(u.startswith(server.rstrip("/")) for u in urls)
