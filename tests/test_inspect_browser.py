"""The inspection page in a real headless browser (Chromium driven by Selenium): it renders the text, another
unit changes the colours, hovering shows the values, and it logs no error and asks the network for nothing.
Skipped only where no Chromium (or its driver) is installed; CI installs both."""

import json
import shutil

import numpy as np
import pytest

import seqgen
from seqgen.inspect import Inspection, series_features

CHROMIUM = next((shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome") if shutil.which(name)),
                None)
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None or CHROMEDRIVER is None,
                                 reason="needs Chromium and chromedriver (Debian: apt-get install chromium chromium-driver)")]

TEXT = 'First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\n"Speak, speak." (Twice.)\n'


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1400,1000"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    # the driver named explicitly, so Selenium never tries to download one
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def text_page(tmp_path_factory):
    from conftest import make_text

    folder = tmp_path_factory.mktemp("page")
    (folder / "corpus.txt").write_text(make_text() + TEXT, encoding="utf-8")
    result = seqgen.train("language-model", corpus=str(folder / "corpus.txt"), max_steps=10, batch_size=4, bptt=16,
                          eval_interval=10, hidden_size=16, embedding_dim=8, device="cpu", progress=False,
                          output_dir=str(folder / "runs"), name="run")
    inspection = seqgen.load(result.best_path, device="cpu").inspect(TEXT)
    return inspection, inspection.html(folder / "page.html", layer=1, unit=3, quantity="c")


def open_page(browser, path):
    browser.get(path.resolve().as_uri())
    browser.get_log("browser")  # nothing before this page
    return browser


def colours(browser):
    return browser.execute_script(
        "return Array.from(document.querySelectorAll('#text .tok'), s => getComputedStyle(s).backgroundColor);")


def network_requests(browser, page_url):
    """Every request the page made besides the page itself."""
    messages = [json.loads(entry["message"])["message"] for entry in browser.get_log("performance")]
    return [m["params"]["request"]["url"] for m in messages
            if m["method"] == "Network.requestWillBeSent" and m["params"]["request"]["url"] != page_url]


def test_the_page_renders_the_text_and_reacts(browser, text_page):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    inspection, path = text_page
    browser.get_log("performance")
    open_page(browser, path)
    tokens = browser.find_elements(By.CSS_SELECTOR, "#text .tok")
    assert len(tokens) == len(TEXT)
    shown = browser.find_element(By.ID, "text").text
    assert "First Citizen:" in shown and "hear me speak." in shown and '"Speak, speak." (Twice.)' in shown

    # another unit, by button and by key, colours the text differently; a quantity key switches quantity
    first = colours(browser)
    browser.find_element(By.ID, "unit-next").click()
    assert browser.find_element(By.ID, "unit").get_attribute("value") == "4"
    second = colours(browser)
    assert second != first
    ActionChains(browser).send_keys(Keys.ARROW_UP).send_keys("f").perform()
    assert colours(browser) != second
    assert browser.find_element(By.CSS_SELECTOR, "#quantity-buttons button.on").get_attribute("data-q") == "f"
    assert browser.find_element(By.ID, "layer").text.startswith("0")  # ↑ from the last layer wraps to layer 0

    # hovering a token shows each of its six values (to the page's 8-bit resolution) and the prediction
    step = TEXT.index("proceed")
    ActionChains(browser).move_to_element(tokens[step]).perform()
    info = browser.find_element(By.ID, "info").text
    assert f"step {step}: p" in info and "layer 0, unit 4" in info
    for quantity in "ifgoch":
        line = next(row for row in info.splitlines() if row.startswith(quantity + " "))
        value = float(line.split()[-1])
        exact = float(inspection[quantity][0, step, 4])
        scale = float(np.abs(inspection["c"][0, :, 4]).max()) if quantity == "c" else 1.0
        assert value == pytest.approx(exact, abs=scale / 127 + 1e-3), quantity
    top = inspection.top_labels[step][0]
    assert "next, as the model predicts:" in info and f"{100 * inspection.top_probs[step][0]:.1f}%" in info, (top, info)

    # a unit of the ranking panel, clicked, is the unit shown
    entry = inspection.ranking(1)[0]
    browser.find_element(By.CSS_SELECTOR, "#ranking button").click()
    assert browser.find_element(By.ID, "unit").get_attribute("value") == str(entry["unit"])

    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
    assert network_requests(browser, browser.current_url) == []
    assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0


def test_a_series_page_draws_the_series_over_its_units(browser, tmp_path):
    from selenium.webdriver.common.by import By

    rng = np.random.default_rng(0)
    values = 100 + 10 * np.sin(np.arange(60) / 3)
    gates = {q: rng.uniform(0.05, 0.95, (2, 60, 6)).astype(np.float32) for q in "ifgoch"}
    inspection = Inspection("series", np.arange(60), [f"1950-{m:02d}" for m in range(1, 61)], gates, values=values,
                            forecast=values + 1, features=series_features(values, 12), title="a series", directions=2)
    path = inspection.html(tmp_path / "series.html", layer=0, unit=2)
    browser.get_log("performance")
    open_page(browser, path)
    assert len(browser.find_elements(By.CSS_SELECTOR, "#text .tok")) == 60
    assert browser.find_element(By.CSS_SELECTOR, "#chart polyline").get_attribute("points").count(",") == 60
    before = colours(browser)
    browser.find_element(By.ID, "layer-next").click()
    assert colours(browser) != before
    assert browser.find_element(By.ID, "direction").text == "forward"
    browser.find_element(By.ID, "unit-next").click()  # units 3 to 5 are the backward direction's 0 to 2
    assert browser.find_element(By.ID, "direction").text == "backward 0"
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(browser).move_to_element(browser.find_elements(By.CSS_SELECTOR, "#text .tok")[30]).perform()
    assert "one-step forecast" in browser.find_element(By.ID, "info").text
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
    assert network_requests(browser, browser.current_url) == []


def test_a_music_page_shows_event_tokens_a_bar_a_line(browser, tmp_path):
    from selenium.webdriver.common.by import By

    from seqgen.inspect import music_features

    labels = "piece ts_4/4 bar pos_0 part_0 pitch_60 dur_4 pos_4 part_0 pitch_62 dur_4 bar pos_0 part_1 pitch_55".split()
    rng = np.random.default_rng(1)
    gates = {q: rng.uniform(0.05, 0.95, (1, len(labels), 4)).astype(np.float32) for q in "ifgoch"}
    inspection = Inspection("music", np.arange(len(labels)), labels, gates, top_tokens=np.zeros((len(labels), 1)),
                            top_probs=np.full((len(labels), 1), 0.5), top_labels=[["bar"]] * len(labels),
                            features=music_features(labels))
    open_page(browser, inspection.html(tmp_path / "music.html"))
    assert [s.text for s in browser.find_elements(By.CSS_SELECTOR, "#text .tok")] == labels
    assert len(browser.find_elements(By.CSS_SELECTOR, "#text br")) == labels.count("bar")  # a line per bar
    assert "position in the bar" in browser.find_element(By.ID, "ranking").text
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []


def test_the_page_numbers_layers_and_units_from_0_and_says_their_range(browser, tmp_path):
    from selenium.webdriver.common.by import By

    labels = list("two layers of 256 units\n" * 2)
    gates = {q: np.random.default_rng(2).uniform(0.05, 0.95, (2, len(labels), 256)).astype(np.float32) for q in "ifgoch"}
    inspection = Inspection("text", np.zeros(len(labels)), labels, gates)
    open_page(browser, inspection.html(tmp_path / "p.html", layer=1, unit=255))
    assert browser.find_element(By.ID, "layer").text == "1 (layers 0–1)"  # the second of two: not "1 of 1"
    assert browser.find_element(By.ID, "unit").get_attribute("value") == "255"
    assert browser.find_element(By.ID, "units").text == "(units 0–255)"  # 256 units: not "of 255"
    assert "too few" not in browser.find_element(By.TAG_NAME, "body").text
    assert "No feature of this input varies" in browser.find_element(By.TAG_NAME, "body").text
