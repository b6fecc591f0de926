"""The page opens what it finds (issue 24, item 3), in Chromium on the desktop and a phone:
a viewer with the original photo and its text boxes, a note's passage in its text, a
recording from its moment, a PDF at its page; arrow keys and swipes between results; the
path with a copy button; the file's other matches under each hit; a dense grid of photos and
a phone layout with the filters folded away; the query image and the "more like this"
source above the results; errors styled as errors. Screenshots are checked by size and
content. One index (tiny CLIP, the real OCR, a transcript from a sidecar), one browser."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
import wave

import numpy as np
import pytest

from browser_kit import DESKTOP, PHONE, require_browser, screenshot_ok, serve
from conftest import CACHE_DIR, make_image

require_browser()

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

SIGN = "Harbour Street Bakery"
NOTE = [f"Day {i}. " + " ".join(f"entry{i}w{j}" for j in range(40)) for i in range(10)]
NOTE[5] = "Day 5. The lighthouse keeper logged the storm and the ships that came in after midnight."


@pytest.fixture(scope="module")
def site(tmp_path_factory, tiny_clip):
    from document_maker import make_pdf

    from searchengine import SearchEngine, Settings
    from searchengine.evaluation.rendered_text import background, find_fonts, render
    from searchengine.ocr.reader import available

    tmp = tmp_path_factory.mktemp("viewer")
    media = tmp / "media"
    for i in range(5):
        make_image(media / f"beach{i}.jpg", seed=i, size=(640, 480))
    ocr = available() and bool(find_fonts())
    box = None
    if ocr:
        picture, box = render(background(7, (640, 480)), SIGN, find_fonts()[0], 40, at=(0.3, 0.6))
        picture.save(media / "bakery.jpg", quality=92)
    (media / "log.md").write_text("\n\n".join(NOTE))
    with wave.open(str(media / "tour.wav"), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000)
        w.writeframes((np.sin(np.arange(16000 * 9) / 15) * 2000).astype("<i2").tobytes())
    (media / "tour.srt").write_text("1\n00:00:00,500 --> 00:00:02,000\nwelcome aboard the morning tour\n\n"
                                    "2\n00:00:05,000 --> 00:00:07,000\nthe harbour crane at dawn\n")
    make_pdf(media / "guide.pdf", ["Opening hours of the museum are nine to five.",
                                   "The tea terraces of Longjing village are picked before Qingming."])
    (tmp / "upload.txt").write_text("not a picture")
    engine = SearchEngine.open("viewer", settings=Settings(index_root=tmp / "idx", model=tiny_clip, cache_dir=CACHE_DIR,
                                                           ocr="auto" if ocr else "off", sounds="off"))
    assert engine.index([media]).failed == 0
    for url in serve(engine):
        yield {"url": url, "tmp": tmp, "media": media, "box": box}
    engine.close()


def api(site, path, **params):
    with urllib.request.urlopen(site["url"] + path + ("?" + urllib.parse.urlencode(params) if params else "")) as r:
        return json.loads(r.read())


def wait(browser, seconds=20):
    return WebDriverWait(browser, seconds)


def search(browser, site, query, *kinds, size=DESKTOP):
    browser.set_window_size(*size)
    qs = urllib.parse.urlencode([("q", query), *(("modality", k) for k in kinds)])
    browser.get(site["url"] + "?" + qs)
    wait(browser).until(lambda b: "results for" in b.find_element(By.ID, "status").text)
    return browser.find_elements(By.CSS_SELECTOR, "#results .hit")


def js(browser, script, *args):
    return browser.execute_script(script, *args)


def viewer_shows(browser, name):
    wait(browser).until(lambda b: js(b, "return document.getElementById('viewer').open") and
                        b.find_element(By.ID, "viewer-title").text == name)


def test_a_click_opens_the_original_photo_with_its_text_boxes(browser, site, tmp_path):
    if site["box"] is None:
        pytest.skip("needs rapidocr-onnxruntime and a font")
    hits = search(browser, site, SIGN.lower())
    assert hits[0].find_element(By.CSS_SELECTOR, ".name").text == "bakery.jpg"
    hits[0].find_element(By.CSS_SELECTOR, "img").click()
    viewer_shows(browser, "bakery.jpg")
    img = browser.find_element(By.CSS_SELECTOR, "#viewer-body .viewer-picture img")
    wait(browser).until(lambda b: js(b, "return arguments[0].complete && arguments[0].naturalWidth", img) > 0)
    assert "/media" in img.get_attribute("src")  # the original, not a thumbnail
    natural, shown = js(browser, "return [arguments[0].naturalWidth, arguments[0].clientWidth]", img)
    assert natural == 640 and shown >= 400, (natural, shown)
    # every line read in the picture is boxed where it was read; the matched one marked
    marks = wait(browser).until(lambda b: b.find_elements(By.CSS_SELECTOR, "#viewer-body .text-box.matched"))
    pic, drawn = img.rect, marks[0].rect
    x0, y0 = (drawn["x"] - pic["x"]) / pic["width"], (drawn["y"] - pic["y"]) / pic["height"]
    x1, y1 = x0 + drawn["width"] / pic["width"], y0 + drawn["height"] / pic["height"]
    box = site["box"]
    assert box[0] - 0.04 <= x0 < x1 <= box[2] + 0.04 and box[1] - 0.04 <= y0 < y1 <= box[3] + 0.04
    assert "Bakery" in browser.find_element(By.ID, "viewer-text").text
    # the original's path, with a copy button that puts it on the clipboard
    path = browser.find_element(By.ID, "viewer-path").text
    assert path.endswith("bakery.jpg") and path.startswith("/")
    js(browser, "window.copied = null; navigator.clipboard.writeText = async (t) => { window.copied = t; };")
    browser.find_element(By.ID, "copy-path").click()
    wait(browser).until(lambda b: b.find_element(By.ID, "copy-said").text == "Copied")
    assert js(browser, "return window.copied") == path
    # without the Clipboard API, the old copy command
    js(browser, "Object.defineProperty(navigator, 'clipboard', {value: undefined, configurable: true});"
                "document.getElementById('copy-said').textContent = ''")
    browser.find_element(By.ID, "copy-path").click()
    wait(browser).until(lambda b: b.find_element(By.ID, "copy-said").text)
    screenshot_ok(browser, tmp_path / "viewer-photo.png", DESKTOP[0])
    # Escape closes it, the focus back on the result
    browser.switch_to.active_element.send_keys(Keys.ESCAPE)
    wait(browser).until(lambda b: not js(b, "return document.getElementById('viewer').open"))
    assert js(browser, "return document.activeElement.closest('.hit').dataset.id") == hits[0].get_attribute("data-id")


def test_arrow_keys_and_swipes_move_between_results(browser, site):
    hits = search(browser, site, "photo", "image")
    names = [h.find_element(By.CSS_SELECTOR, ".name").text for h in hits]
    assert len(names) >= 3
    hits[0].find_element(By.CSS_SELECTOR, ".name").send_keys(Keys.ENTER)  # Enter on a result opens it
    viewer_shows(browser, names[0])
    assert browser.find_element(By.ID, "viewer-position").text == f"1 of {len(names)}"
    assert js(browser, "return document.getElementById('viewer').contains(document.activeElement)")
    browser.switch_to.active_element.send_keys(Keys.ARROW_RIGHT)
    viewer_shows(browser, names[1])
    assert browser.find_element(By.ID, "viewer-position").text == f"2 of {len(names)}"
    browser.switch_to.active_element.send_keys(Keys.ARROW_LEFT)
    viewer_shows(browser, names[0])
    browser.find_element(By.ID, "viewer-next").click()
    viewer_shows(browser, names[1])
    # a swipe to the left: the next one; to the right: back (touch events through DevTools)
    body = browser.find_element(By.ID, "viewer-body").rect
    y = body["y"] + body["height"] / 2

    def swipe(x0, x1):
        for kind, x in (("touchStart", x0), ("touchMove", (x0 + x1) / 2), ("touchEnd", x1)):
            points = [] if kind == "touchEnd" else [{"x": x, "y": y}]
            browser.execute_cdp_cmd("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})
    swipe(body["x"] + body["width"] * 0.8, body["x"] + body["width"] * 0.2)
    viewer_shows(browser, names[2])
    swipe(body["x"] + body["width"] * 0.2, body["x"] + body["width"] * 0.8)
    viewer_shows(browser, names[1])
    browser.find_element(By.ID, "viewer-close").click()
    wait(browser).until(lambda b: not js(b, "return document.getElementById('viewer').open"))


def test_a_recording_plays_from_its_moment_and_lists_its_transcript(browser, site):
    hits = search(browser, site, "harbour crane", "audio")
    moment = api(site, "api/search", q="harbour crane", modality="audio")["hits"][0]
    start = moment["moment"] if moment.get("moment") is not None else moment["start"]
    assert start >= 3  # the spoken line is 5 s in: a player left at 0 would fail
    hits[0].click()
    viewer_shows(browser, "tour.wav")
    player = browser.find_element(By.CSS_SELECTOR, "#viewer-body audio")
    wait(browser).until(lambda b: js(b, "return arguments[0].readyState >= 1 && arguments[0].currentTime > 0", player))
    now = js(browser, "return arguments[0].currentTime", player)
    assert start - 0.5 <= now <= start + 3, (start, now)
    lines = wait(browser).until(lambda b: b.find_elements(By.CSS_SELECTOR, "#viewer-text .transcript li"))
    assert len(lines) == 2 and "harbour crane" in browser.find_element(
        By.CSS_SELECTOR, "#viewer-text .transcript li.current").text
    browser.find_element(By.ID, "viewer-close").click()
    # closing stops it: the player is gone
    wait(browser).until(lambda b: not b.find_elements(By.CSS_SELECTOR, "#viewer-body audio"))


def test_a_note_in_its_text_and_a_pdf_at_its_page(browser, site):
    hits = search(browser, site, "lighthouse keeper", "text")
    assert hits[0].find_element(By.CSS_SELECTOR, ".name").text == "log.md"
    hits[0].find_element(By.CSS_SELECTOR, ".passage").click()
    viewer_shows(browser, "log.md")
    context = wait(browser).until(lambda b: b.find_element(By.CSS_SELECTOR, "#viewer-text .context"))
    wait(browser).until(lambda b: "Day 4." in context.text)  # the text around the passage, loaded
    text = context.text
    assert "Day 4." in text and "Day 6." in text  # before and after the passage
    assert "lighthouse keeper" in browser.find_element(By.CSS_SELECTOR, "#viewer-text .passage-hit").text
    browser.find_element(By.ID, "viewer-close").click()

    hits = search(browser, site, "tea terraces of Longjing village")
    pdf = next(h for h in hits if h.find_element(By.CSS_SELECTOR, ".name").text == "guide.pdf")
    pdf.find_element(By.CSS_SELECTOR, ".name").click()
    viewer_shows(browser, "guide.pdf")
    shown = browser.find_element(By.CSS_SELECTOR, "#viewer-body object.pdf")
    assert shown.get_attribute("data").endswith("/media#page=2")
    assert browser.find_element(By.ID, "viewer-open").get_attribute("href").endswith("/media#page=2")
    assert "Longjing" in browser.find_element(By.CSS_SELECTOR, "#viewer-text .passage-hit").text
    # the browser's own PDF viewer may load it (the page's and the file's CSP let it)
    blocked = [e["message"] for e in browser.get_log("browser") if "Content Security Policy" in e["message"]]
    assert not blocked, blocked
    browser.find_element(By.ID, "viewer-close").click()


def test_evidence_is_listed_under_its_hit(browser, site):
    hits = search(browser, site, "day entry lighthouse storm ships midnight", "text")
    note = next(h for h in hits if h.find_element(By.CSS_SELECTOR, ".name").text == "log.md")
    evidence = api(site, "api/search", q="day entry lighthouse storm ships midnight", modality="text")["hits"][0]["evidence"]
    assert evidence, "the note has more than one matching passage"
    units = note.find_elements(By.CSS_SELECTOR, ".evidence button.unit")
    assert len(units) == min(4, len(evidence))
    assert units[0].text.startswith("passage")
    labels = [u.get_attribute("aria-label") for u in units]
    assert len(set(labels)) == len(labels)
    units[0].click()  # opens the viewer at that passage
    viewer_shows(browser, "log.md")
    wait(browser).until(lambda b: js(b, "return document.getElementById('viewer').dataset.id") == str(evidence[0]["id"]))
    browser.find_element(By.ID, "viewer-close").click()


def test_the_query_image_and_the_more_like_this_source_and_errors(browser, site, tmp_path):
    browser.set_window_size(*DESKTOP)
    browser.get(site["url"])
    browser.find_element(By.ID, "image-file").send_keys(str(site["media"] / "beach1.jpg"))
    wait(browser).until(lambda b: "this image" in b.find_element(By.ID, "status").text)
    source = browser.find_element(By.ID, "query-source")
    picture = browser.find_element(By.ID, "query-picture")
    wait(browser).until(lambda b: js(b, "return arguments[0].complete && arguments[0].naturalWidth", picture) == 640)
    assert source.is_displayed() and "beach1.jpg" in source.text
    assert source.location["y"] < browser.find_element(By.CSS_SELECTOR, "#results .hit").location["y"]

    first = browser.find_elements(By.CSS_SELECTOR, "#results .hit")[0]
    name = first.find_element(By.CSS_SELECTOR, ".name").text
    first.find_element(By.CSS_SELECTOR, "button.similar").click()
    wait(browser).until(lambda b: f"More like {name}" in b.find_element(By.ID, "query-source").text)
    wait(browser).until(lambda b: js(b, "const i = document.getElementById('query-picture');"
                                        "return !i.hidden && i.complete && i.naturalWidth > 0"))

    browser.find_element(By.ID, "image-file").send_keys(str(site["tmp"] / "upload.txt"))
    status = wait(browser).until(lambda b: b.find_element(By.CSS_SELECTOR, "#status.error"))
    assert status.get_attribute("role") == "alert" and status.text
    assert status.value_of_css_property("color") in ("rgba(176, 0, 32, 1)", "rgb(176, 0, 32)")
    screenshot_ok(browser, tmp_path / "error.png", DESKTOP[0])


def test_a_dense_grid_on_the_desktop_and_two_columns_on_a_phone(browser, site, tmp_path):
    def columns():
        return len(set(js(browser, "return Array.from(document.querySelectorAll('#results .hit'))"
                                   ".map(h => Math.round(h.getBoundingClientRect().left))")))

    search(browser, site, "photo", "image")
    assert columns() >= 4
    filters = browser.find_element(By.ID, "filters")
    assert filters.is_displayed() and not browser.find_element(By.ID, "filters-toggle").is_displayed()
    screenshot_ok(browser, tmp_path / "desktop.png", DESKTOP[0])

    search(browser, site, "photo", "image", size=PHONE)
    assert js(browser, "return document.documentElement.clientWidth") <= PHONE[0]
    assert 2 <= columns() <= 3
    assert js(browser, "return document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    toggle, filters = browser.find_element(By.ID, "filters-toggle"), browser.find_element(By.ID, "filters")
    assert toggle.is_displayed() and not filters.is_displayed()  # folded away
    assert toggle.text == "Filters (1)" and toggle.get_attribute("aria-expanded") == "false"
    screenshot_ok(browser, tmp_path / "phone.png", PHONE[0])
    toggle.click()
    assert filters.is_displayed() and toggle.get_attribute("aria-expanded") == "true"
    toggle.click()

    # the viewer on a phone: the photo across the screen
    browser.find_elements(By.CSS_SELECTOR, "#results .hit img")[0].click()
    img = wait(browser).until(lambda b: b.find_element(By.CSS_SELECTOR, "#viewer-body .viewer-picture img"))
    wait(browser).until(lambda b: js(b, "return arguments[0].complete && arguments[0].naturalWidth", img) > 0)
    assert js(browser, "return arguments[0].clientWidth", img) >= PHONE[0] * 0.8
    screenshot_ok(browser, tmp_path / "phone-viewer.png", PHONE[0])
    browser.find_element(By.ID, "viewer-close").click()
    browser.set_window_size(*DESKTOP)


def test_the_item_says_where_its_text_is(site):
    """What the viewer reads: a photo's lines with their boxes, a passage in its text."""
    hit = api(site, "api/search", q="lighthouse keeper", modality="text", mode="keyword")["hits"][0]
    context = api(site, f"api/items/{hit['id']}")["context"]
    assert context["text"][context["start"]:context["end"]] == hit["text"]
    assert context["cut_before"] and context["cut_after"]  # the note goes on both ways
    whole = "\n\n".join(NOTE)
    before, after = context["text"][:context["start"]], context["text"][context["end"]:]
    assert before and after and before.replace("\n", "") in whole.replace("\n", "")
    assert after.replace("\n", "") in whole.replace("\n", "") and len(context["text"]) <= len(hit["text"]) + 2500
    if site["box"] is not None:
        photo = api(site, "api/search", q=SIGN, modality="image", mode="keyword")["hits"][0]
        item = api(site, f"api/items/{photo['id']}")
        assert item["kind"] == "ocr" and item["box"] == photo["box"]
        assert [line["text"] for line in item["text_in_image"]] == [SIGN]
        assert item["text_in_image"][0]["box"] == photo["box"]
