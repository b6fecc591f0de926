"""/docs in a real browser with the network off (every name but loopback fails to resolve):
Swagger UI comes from the app itself (swagger-ui-bundle), not a CDN."""

from __future__ import annotations

import os
import socket
import threading
import time

import numpy as np
import pytest

from conftest import make_image

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
    if os.environ.get("SEARCHENGINE_REQUIRE_BROWSER"):
        raise RuntimeError("browser tests need Debian's chromium and chromium-driver packages")
    pytest.skip("Debian's chromium / chromium-driver are not installed", allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture(scope="module")
def base_url(tmp_path_factory, tiny_clip):
    import uvicorn

    from conftest import CACHE_DIR
    from searchengine import SearchEngine, Settings
    from searchengine.http.app import create_app

    tmp = tmp_path_factory.mktemp("docs")
    make_image(tmp / "media" / "a.png", seed=1)
    engine = SearchEngine.open("d", settings=Settings(index_root=tmp / "idx", model=tiny_clip, cache_dir=CACHE_DIR,
                                                      ocr="off"))
    engine.index([tmp / "media"])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(engine), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not srv.started and time.time() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)
    engine.close()


@pytest.fixture(scope="module")
def offline_browser(tmp_path_factory):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",  # the network is off
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-docs')}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


@pytest.mark.parametrize("size", [(1280, 900), (390, 844)], ids=["desktop", "phone"])
def test_docs_render_with_the_network_off(base_url, offline_browser, size, tmp_path):
    from PIL import Image

    offline_browser.set_window_size(*size)
    offline_browser.get(f"{base_url}/docs")
    WebDriverWait(offline_browser, 30).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, ".swagger-ui .opblock")) >= 5)
    title = offline_browser.find_element(By.CSS_SELECTOR, ".swagger-ui .info .title")
    assert "searchengine" in title.text and title.is_displayed()
    srcs = [s.get_attribute("src") for s in offline_browser.find_elements(By.TAG_NAME, "script") if s.get_attribute("src")]
    assert srcs and all(src.startswith(base_url) for src in srcs)
    shot = tmp_path / "docs.png"
    offline_browser.save_screenshot(str(shot))
    with Image.open(shot) as img:
        assert img.width >= size[0] * 0.9 and len(set(np.asarray(img.convert("L").resize((64, 64))).ravel().tolist())) > 8
