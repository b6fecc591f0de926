"""The web page in a real browser: Debian's headless Chromium driven by Selenium (the setup
is tests/browser_kit.py's; the ``browser`` fixture is conftest's)."""

import pytest

from browser_kit import require_browser, serve
from conftest import SAMPLES

require_browser()

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

@pytest.fixture(scope="module")
def server(samples_engine):
    yield from serve(samples_engine)


def wait(browser, seconds=20):
    return WebDriverWait(browser, seconds)


def results(browser):
    return browser.find_elements(By.CSS_SELECTOR, "#results .hit")


def set_kinds(browser, *kinds):
    for box in browser.find_elements(By.CSS_SELECTOR, '#kinds input[name="modality"]'):
        if box.is_selected() != (box.get_attribute("value") in kinds):
            box.click()


def status_says(browser, fragment):
    wait(browser).until(lambda b: fragment in b.find_element(By.ID, "status").text)


def search_for(browser, server, text, modality=""):
    browser.get(server)
    set_kinds(browser, *([modality] if modality else []))
    box = browser.find_element(By.ID, "q")
    box.clear()
    box.send_keys(text, Keys.ENTER)
    status_says(browser, f"results for \u201c{text}\u201d")


def names(browser):
    """The hits' names, read in one go (no stale elements while the list is redrawn)."""
    return browser.execute_script(
        "return Array.from(document.querySelectorAll('#results .hit .name')).map(e => e.textContent)")


def kinds(browser):
    return set(browser.execute_script(
        "return Array.from(document.querySelectorAll('#results .hit')).map(e => e.dataset.modality)"))


def address(browser):
    return browser.execute_script("return location.search")


def test_type_a_query_and_see_thumbnails(browser, server):
    search_for(browser, server, "a cat")
    # hybrid: the note that says "cat" (keyword and meaning) and the photo (meaning) lead
    top = {h.find_element(By.CSS_SELECTOR, ".name").text: h for h in results(browser)[:2]}
    assert set(top) == {"chelsea.png", "cat.txt"}
    first = top["chelsea.png"]
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
    status_says(browser, "items like coffee.png")
    assert "coffee.png" not in names(browser) and names(browser)
    # "more like this" is in the address too, its filters with it, and a bookmark of it works
    search = address(browser)
    assert "similar=" in search and "modality=image" in search
    browser.get(server + search)
    status_says(browser, "items like coffee.png")
    assert kinds(browser) == {"image"}
    browser.find_element(By.TAG_NAME, "body").send_keys("/")
    assert browser.switch_to.active_element == browser.find_element(By.ID, "q")


def test_page_loads_nothing_from_other_hosts(browser, server):
    browser.get(server)
    urls = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert urls and all(u.startswith(server.rstrip("/")) for u in urls)


def order(browser):
    """The result list's rows as names, the divider as '|'."""
    return browser.execute_script(
        "return Array.from(document.querySelectorAll('#results > li')).map(li =>"
        " li.id === 'weak-divider' ? '|' : li.querySelector('.name').textContent)")


def test_a_divider_marks_where_strong_matches_end(browser, server):
    search_for(browser, server, "a cat lying on a rug")
    rows = order(browser)
    assert "|" in rows, rows
    strong, weak = rows[:rows.index("|")], rows[rows.index("|") + 1:]
    assert "chelsea.png" in strong and "horse.png" in weak and "espresso.md" in weak, rows
    divider = browser.find_element(By.ID, "weak-divider")
    assert "Weaker matches" in divider.text
    assert len(browser.find_elements(By.CSS_SELECTOR, "#results .hit.weak")) == len(weak)
    assert "strong" in browser.find_element(By.ID, "status").text
    # the weaker ones can be folded away and back
    horse = next(r for r in results(browser) if r.find_element(By.CSS_SELECTOR, ".name").text == "horse.png")
    toggle = browser.find_element(By.ID, "weak-toggle")
    assert toggle.text == f"Hide {len(weak)} weaker matches"
    toggle.click()
    wait(browser).until(lambda b: not horse.is_displayed())
    assert toggle.get_attribute("aria-expanded") == "false" and toggle.text.startswith("Show ")
    toggle.click()
    wait(browser).until(lambda b: horse.is_displayed())


def test_the_search_lives_in_the_address_and_history(browser, server):
    search_for(browser, server, "a cat")
    assert "q=a+cat" in address(browser)
    first = names(browser)[0]
    box = browser.find_element(By.ID, "q")
    box.clear()
    box.send_keys("rocket launch", Keys.ENTER)
    status_says(browser, "results for \u201crocket launch\u201d")
    assert "q=rocket+launch" in address(browser)
    rocket_first = names(browser)[0]
    assert rocket_first in ("rocket.jpg", "launch.md")  # hybrid: the photo, or the note naming both words

    browser.back()
    status_says(browser, "results for \u201ca cat\u201d")
    assert browser.find_element(By.ID, "q").get_attribute("value") == "a cat"
    assert names(browser)[0] == first and first in ("chelsea.png", "cat.txt")
    browser.forward()
    status_says(browser, "results for \u201crocket launch\u201d")
    assert browser.find_element(By.ID, "q").get_attribute("value") == "rocket launch"
    assert names(browser)[0] == rocket_first


def test_opening_an_address_with_a_query_runs_it(browser, server):
    browser.get(server + "?q=calligraphy&modality=audio&modality=text")
    status_says(browser, "results for \u201ccalligraphy\u201d")
    assert browser.find_element(By.ID, "q").get_attribute("value") == "calligraphy"
    assert names(browser)[0] == "printing-history.flac"
    ticked = [b.get_attribute("value") for b in browser.find_elements(By.CSS_SELECTOR, "#kinds input:checked")]
    assert ticked == ["text", "audio"]
    assert kinds(browser) <= {"audio", "text"} and "q=calligraphy" in address(browser)


def test_filters_apply_and_go_in_the_address(browser, server):
    search_for(browser, server, "a cat lying on a rug")
    assert kinds(browser) == {"image", "text", "audio"}
    set_kinds(browser, "text")  # re-runs the search at once
    wait(browser).until(lambda b: "modality=text" in address(b) and kinds(b) == {"text"})
    status_says(browser, "results for")
    assert names(browser)[0] == "cat.txt" and "q=a+cat+lying" in address(browser)

    # a folder: matched anywhere in the path
    set_kinds(browser)
    browser.find_element(By.ID, "path").send_keys("samples/images", Keys.ENTER)
    wait(browser).until(lambda b: "path=samples%2Fimages" in address(b) and "modality=" not in address(b))
    wait(browser).until(lambda b: kinds(b) == {"image"})
    assert "chelsea.png" in names(browser)

    # dates: nothing here was modified before 2000
    browser.execute_script("const el = document.getElementById('before'); el.value = '2000-01-01';"
                           "el.dispatchEvent(new Event('change'))")
    status_says(browser, "No matches for")
    assert "before=2000-01-01" in address(browser) and "path=" in address(browser)
    browser.back()  # the folder search again, its results back
    wait(browser).until(lambda b: kinds(b) == {"image"} and "before=" not in address(b))
    assert browser.find_element(By.ID, "before").get_attribute("value") == ""
    assert browser.find_element(By.ID, "path").get_attribute("value") == "samples/images"

    browser.find_element(By.ID, "clear-filters").click()
    wait(browser).until(lambda b: "path=" not in address(b) and kinds(b) == {"image", "text", "audio"})


def test_the_cut_rule_and_keyword_hits(browser, server):
    browser.get(server)
    cut = lambda scores: browser.execute_script("return strongCount(arguments[0])", scores)  # noqa: E731
    assert cut([0.9, 0.85, 0.4, 0.38, 0.35, 0.33, 0.3, 0.28, 0.25]) == 2  # a knee after two
    # no drop of 20% of the spread, but the top one stands 14% above the rest: a lone leader
    assert cut([0.58, 0.5, 0.45, 0.41, 0.37, 0.33, 0.29, 0.25, 0.21, 0.17, 0.13, 0.1, 0.08, 0.06, 0.04, 0.02, 0.0]) == 1
    assert cut([0.4 - 0.01 * i for i in range(20)]) == 0  # a steady decline: nothing strong
    assert cut([0.5] * 6) == 0 and cut([0.5, 0.1]) == 2 and cut([]) == 0
    # the page's own cut (for a server that sends no `strong`): a hit the keyword side found
    # is strong whatever its score, and sits above the divider
    browser.execute_script("""
        const fetch0 = window.fetch;
        window.fetch = async (...args) => {
          const response = await fetch0(...args);
          if (!String(args[0]).includes("/api/search?")) return response;
          const body = await response.json();
          for (const hit of body.hits) {  // a server that does not say which hits are strong
            hit.found_by = hit.name === "espresso.md" ? ["keyword"] : ["vector"];
            delete hit.strong;
          }
          return new Response(JSON.stringify(body), {status: 200, headers: {"content-type": "application/json"}});
        };""")
    browser.find_element(By.ID, "q").send_keys("a cat lying on a rug", Keys.ENTER)
    status_says(browser, "results for")
    rows = order(browser)
    strong, weak = rows[:rows.index("|")], rows[rows.index("|") + 1:]
    assert "espresso.md" in strong and "chelsea.png" in strong and "horse.png" in weak, rows


def test_keyword_matches_are_highlighted_as_the_server_found_them(browser, server):
    # a Chinese word inside text without spaces: only the keyword index can place it
    search_for(browser, server, "乌龙茶")
    first = results(browser)[0]
    assert first.find_element(By.CSS_SELECTOR, ".name").text == "茶.md"
    assert "keyword" in (first.get_attribute("data-found-by") or "")
    marks = [m.text for m in first.find_elements(By.CSS_SELECTOR, ".passage mark")]
    assert marks and all(m == "乌龙茶" for m in marks)


@pytest.fixture(scope="module")
def sign_server(tmp_path_factory, tiny_clip):
    """An index of one photo with a sign on it (text read by OCR) and one without."""
    from searchengine import SearchEngine, Settings
    from searchengine.evaluation.rendered_text import background, find_fonts, render
    from searchengine.ocr.reader import available

    if not available() or not find_fonts():
        pytest.skip("needs rapidocr-onnxruntime and a font")
    media = tmp_path_factory.mktemp("signs")
    picture, box = render(background(7, (640, 480)), "Harbour Street Bakery", find_fonts()[0], 40, at=(0.35, 0.6))
    picture.save(media / "bakery.jpg", quality=92)
    background(8, (640, 480)).save(media / "field.jpg", quality=92)
    engine = SearchEngine.open("signs", settings=Settings(index_root=tmp_path_factory.mktemp("idx"), model=tiny_clip))
    engine.index([media])
    for url in serve(engine):
        yield url, box
    engine.close()


def test_a_hit_on_text_in_an_image_draws_its_box_on_the_picture(browser, sign_server):
    server, box = sign_server
    search_for(browser, server, "harbour street bakery")
    hit = results(browser)[0]
    assert hit.find_element(By.CSS_SELECTOR, ".name").text == "bakery.jpg"
    assert hit.get_attribute("data-kind") == "ocr"
    assert "text in image" in hit.find_element(By.CSS_SELECTOR, ".meta").text
    assert "Bakery" in hit.find_element(By.CSS_SELECTOR, ".passage").text
    img = hit.find_element(By.TAG_NAME, "img")
    wait(browser).until(lambda b: b.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img) > 0)
    mark = hit.find_element(By.CSS_SELECTOR, ".text-box")
    pic, drawn = img.rect, mark.rect  # where the box is on screen, as fractions of the picture
    x0, y0 = (drawn["x"] - pic["x"]) / pic["width"], (drawn["y"] - pic["y"]) / pic["height"]
    x1, y1 = x0 + drawn["width"] / pic["width"], y0 + drawn["height"] / pic["height"]
    assert box[0] - 0.03 <= x0 < x1 <= box[2] + 0.03 and box[1] - 0.03 <= y0 < y1 <= box[3] + 0.03
    assert x1 - x0 > 0.5 * (box[2] - box[0])
    # the whole picture is shown (not cropped), in its own proportions
    assert abs(pic["width"] / pic["height"] - 640 / 480) < 0.05


@pytest.fixture(scope="module")
def trips_server(offline_settings, tmp_path_factory):
    """A PDF and two photos, one with GPS and a date taken (issue 22)."""
    import shutil

    from document_maker import make_pdf
    from test_photo_facts import SPOTS, tagged_photo

    from searchengine import SearchEngine

    folder = tmp_path_factory.mktemp("trips-page")
    make_pdf(folder / "guide.pdf", ["Opening hours of the museum are nine to five.",
                                    "The tea terraces of Longjing village are picked before Qingming."])
    tagged_photo(folder / "IMG_1002.jpg", *SPOTS["IMG_1002.jpg"])
    shutil.copy(SAMPLES / "images" / "chelsea.png", folder / "chelsea.png")
    engine = SearchEngine.open("trips-page", settings=offline_settings)
    assert engine.index([folder]).failed == 0
    yield from serve(engine)
    engine.close()


def test_a_pdf_hit_shows_its_page_and_opens_there_and_the_place_filter(browser, trips_server):
    search_for(browser, trips_server, "tea terraces of Longjing village")
    first = results(browser)[0]
    assert first.find_element(By.CSS_SELECTOR, ".name").text == "guide.pdf"
    link = first.find_element(By.CSS_SELECTOR, "a.page")
    assert link.text == "p. 2" and link.get_attribute("href").endswith("/media#page=2")
    wait(browser).until(lambda b: b.execute_script(
        "const img = document.querySelector('#results .hit img'); return img && img.complete && img.naturalWidth > 0"))

    browser.find_element(By.ID, "place").send_keys("Japan", Keys.ENTER)
    wait(browser).until(lambda b: "place=Japan" in address(b) and set(names(b)) == {"IMG_1002.jpg"})
    facts = results(browser)[0].find_element(By.CSS_SELECTOR, ".facts").text
    assert "taken 2019-07-14" in facts and "Kyoto, Japan" in facts and "Canon EOS R5" in facts
