"""/docs in a real browser with the network off (every name but loopback fails to resolve):
Swagger UI comes from the app itself (swagger-ui-bundle), not a CDN."""

from __future__ import annotations

import pytest

from browser_kit import DESKTOP, PHONE, require_browser, screenshot_ok, serve, start_chromium
from conftest import make_image

require_browser()

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture(scope="module")
def base_url(tmp_path_factory, tiny_clip):
    from conftest import CACHE_DIR
    from searchengine import SearchEngine, Settings

    tmp = tmp_path_factory.mktemp("docs")
    make_image(tmp / "media" / "a.png", seed=1)
    engine = SearchEngine.open("d", settings=Settings(index_root=tmp / "idx", model=tiny_clip, cache_dir=CACHE_DIR,
                                                      ocr="off"))
    engine.index([tmp / "media"])
    for url in serve(engine):
        yield url.rstrip("/")
    engine.close()


@pytest.fixture(scope="module")
def offline_browser(tmp_path_factory):
    driver = start_chromium(tmp_path_factory.mktemp("chromium-docs"),
                            flags=("--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",),  # the network is off
                            capabilities={"goog:loggingPrefs": {"browser": "ALL"}})
    yield driver
    driver.quit()


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_docs_render_with_the_network_off(base_url, offline_browser, size, tmp_path):
    offline_browser.set_window_size(*size)
    offline_browser.get(f"{base_url}/docs")
    WebDriverWait(offline_browser, 30).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, ".swagger-ui .opblock")) >= 5)
    title = offline_browser.find_element(By.CSS_SELECTOR, ".swagger-ui .info .title")
    assert "searchengine" in title.text and title.is_displayed()
    srcs = [s.get_attribute("src") for s in offline_browser.find_elements(By.TAG_NAME, "script") if s.get_attribute("src")]
    assert srcs and all(src.startswith(base_url) for src in srcs)
    screenshot_ok(offline_browser, tmp_path / "docs.png", size[0])
