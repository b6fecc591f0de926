"""What the browser tests share: Debian's headless Chromium driven by Selenium through
Debian's chromedriver (no browser downloads), an engine served by uvicorn on a free local
port, and screenshots checked by size and content. `.ci/run` installs both packages and sets
SEARCHENGINE_REQUIRE_BROWSER=1, so CI fails rather than skips when they are missing.

A test module calls :func:`require_browser` at import; the ``browser`` fixture (module
scope, 1280 x 900) lives in conftest.py."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
DESKTOP, PHONE = (1280, 900), (390, 844)


def have_browser() -> bool:
    return os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)


def require_browser() -> None:
    """Skip the calling test module without Chromium (fail under CI)."""
    if not have_browser():
        if os.environ.get("SEARCHENGINE_REQUIRE_BROWSER"):
            raise RuntimeError("browser tests need Debian's chromium and chromium-driver packages")
        pytest.skip("Debian's chromium / chromium-driver are not installed", allow_module_level=True)


def start_chromium(profile: Path, size: tuple[int, int] = DESKTOP, flags: tuple[str, ...] = (),
                   capabilities: dict[str, Any] | None = None) -> Any:
    """Headless Chromium with a fresh profile in ``profile``, muted, playing media without a
    gesture; ``flags``: more command-line switches."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--autoplay-policy=no-user-gesture-required", "--mute-audio",
                 f"--user-data-dir={profile}", *flags):
        options.add_argument(flag)
    for name, value in (capabilities or {}).items():
        options.set_capability(name, value)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_window_size(*size)
    return driver


def serve(engine: Any) -> Iterator[str]:
    """The engine's HTTP app on a free local port, for as long as the generator is open;
    yields its address ending in '/'."""
    import uvicorn

    from searchengine.http.app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(engine), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not srv.started and time.time() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/"
    srv.should_exit = True
    thread.join(10)


def screenshot_ok(driver: Any, path: Path, width: int) -> Path:
    """A screenshot of the window, saved at ``path``: about ``width`` pixels wide and not blank
    (more than 8 grey levels in a 64 x 64 reduction of it)."""
    import numpy as np
    from PIL import Image

    driver.save_screenshot(str(path))
    with Image.open(path) as img:
        assert img.width >= width * 0.9, (img.size, width)
        levels = set(np.asarray(img.convert("L").resize((64, 64))).ravel().tolist())
        assert len(levels) > 8, f"{path} looks blank ({len(levels)} grey levels)"
    return path
