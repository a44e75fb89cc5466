"""The studio in a real headless browser (Chromium driven by Selenium, as the inspection page is): train a tiny run
from the page and watch its curve and progress move, stream a text sample and see it grow, play a music sample,
draw a forecast, show the gates; no console error, and no request to any host but the studio's own. It takes the
screenshots of docs/guides/studio.md; `SEQGEN_SCREENSHOTS=docs pytest tests/test_studio_browser.py` writes them
there (docs/studio-*.png), otherwise they go to a temporary folder."""

import json
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

import seqgen

CHROMIUM = next((shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome") if shutil.which(name)),
                None)
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None or CHROMEDRIVER is None,
                                 reason="needs Chromium and chromedriver (Debian: apt-get install chromium chromium-driver)")]
pytest.importorskip("uvicorn")
ROOT = Path(__file__).resolve().parent.parent


def tune(path, shift=0):
    import mido

    song = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0))
    for pitch in (60, 62, 64, 65, 67, 69, 71, 72, 71, 69, 67, 65, 64, 62, 60, 55):
        track.append(mido.Message("note_on", note=pitch + shift, velocity=80, time=0))
        track.append(mido.Message("note_off", note=pitch + shift, velocity=0, time=480))
    song.tracks.append(track)
    song.save(str(path))


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    """A studio over tiny runs (text, music, forecast, translation), listening on a free port of 127.0.0.1."""
    import uvicorn
    from conftest import make_text

    from seqgen.studio.app import create_app

    folder = tmp_path_factory.mktemp("studio-browser")
    runs = folder / "runs"
    (folder / "corpus.txt").write_text(make_text(1500), encoding="utf-8")
    tiny = {"output_dir": str(runs), "progress": False, "device": "cpu"}
    seqgen.train("language-model", corpus=str(folder / "corpus.txt"), max_steps=60, batch_size=8, bptt=16,
                 eval_interval=30, log_interval=5, hidden_size=32, embedding_dim=16, name="lady-text", **tiny)
    (folder / "tunes").mkdir()
    for shift in range(4):
        tune(folder / "tunes" / f"tune{shift}.mid", shift)
    seqgen.train("language-model", corpus=str(folder / "tunes"), max_steps=200, batch_size=4, bptt=16, eval_interval=100,
                 hidden_size=32, embedding_dim=16, name="tunes", **tiny)
    seqgen.train("forecast", epochs=5, ensemble=2, hidden_size=8, name="airline", **tiny)
    seqgen.train("translate", train_pairs=200, max_steps=4, eval_interval=4, hidden_size=8, embedding_dim=8,
                 name="dates", **tiny)
    rows = [f"{1 + i % 2} " + " ".join(f"{(i % 2) * 2.0 + 0.1 * t:.3f}" for t in range(12)) for i in range(16)]
    (folder / "beats.txt").write_text("\n".join(rows) + "\n")
    seqgen.train("classify", corpus=str(folder / "beats.txt"), epochs=2, ensemble=1, hidden_size=4, conv_channels=2,
                 name="beats", **tiny)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(runs), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", folder
    server.should_exit = True
    thread.join(timeout=30)


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1400,1000", "--autoplay-policy=no-user-gesture-required"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)  # named: Selenium downloads nothing
    yield driver
    driver.quit()


def wait(condition, seconds=60, what="the page"):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what} did not come in {seconds} s")


def requests_made(browser):
    messages = [json.loads(entry["message"])["message"] for entry in browser.get_log("performance")]
    return [m["params"]["request"]["url"] for m in messages if m["method"] == "Network.requestWillBeSent"]


def choose_run(browser, name):
    from selenium.webdriver.common.by import By

    row = f'#runs tr[data-run="{name}"]'  # the list is redrawn every few seconds: clicked by the page's own script
    wait(lambda: browser.execute_script(f"const r = document.querySelector('{row}'); if (r) r.click(); return !!r;"),
         what=f"the run {name}")
    wait(lambda: browser.find_element(By.ID, "run-title").text == name)


def set_field(browser, element_id, value):
    from selenium.webdriver.common.by import By

    field = browser.find_element(By.ID, element_id)
    field.clear()
    field.send_keys(str(value))


def test_the_studio_in_a_browser(browser, studio, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    address, folder = studio
    shots = ROOT / os.environ["SEQGEN_SCREENSHOTS"] if os.environ.get("SEQGEN_SCREENSHOTS") else tmp_path
    shots.mkdir(exist_ok=True)
    browser.get_log("performance")
    browser.get(address + "/")
    wait(lambda: len(browser.find_elements(By.CSS_SELECTOR, "#runs tbody tr")) == 5, what="the five runs")
    browser.get_log("browser")

    # train from the page, on an uploaded corpus; the curve and the progress move
    Select(browser.find_element(By.ID, "train-task")).select_by_value("language-model")
    browser.find_element(By.ID, "upload-file").send_keys(str(folder / "corpus.txt"))
    wait(lambda: Select(browser.find_element(By.ID, "train-corpus")).first_selected_option.get_attribute("value")
         == "corpus.txt", what="the upload")
    for name, value in (("max_steps", 600), ("hidden_size", 16), ("embedding_dim", 8), ("batch_size", 4), ("bptt", 16),
                        ("eval_interval", 200), ("log_interval", 5), ("num_layers", 1)):
        set_field(browser, f"train-{name}", value)
    set_field(browser, "train-name", "from-the-page")
    browser.find_element(By.ID, "train-start").click()
    status = wait(lambda: browser.find_elements(By.CSS_SELECTOR, "#jobs .job .status"), what="the job")[0]
    curve = browser.find_element(By.CSS_SELECTOR, "#jobs .job svg.curve")
    wait(lambda: int(curve.get_attribute("data-points") or 0) >= 3, 90, "the first points of the curve")
    first = (float(status.get_attribute("data-fraction")), int(curve.get_attribute("data-points")),
             curve.find_element(By.CSS_SELECTOR, "polyline").get_attribute("points"))
    wait(lambda: float(status.get_attribute("data-fraction")) > first[0] + 0.05
         and int(curve.get_attribute("data-points")) > first[1], 90, "progress")
    assert curve.find_element(By.CSS_SELECTOR, "polyline").get_attribute("points") != first[2]
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", curve)
    browser.save_screenshot(str(shots / "studio-train.png"))
    wait(lambda: "finished" in status.text, 180, "the end of training")
    wait(lambda: browser.find_elements(By.CSS_SELECTOR, '#runs tr[data-run="from-the-page"]'), what="the new run")

    # the run trained from the page, resumed from the page for a few more steps
    choose_run(browser, "from-the-page")
    Select(browser.find_element(By.ID, "resume-option")).select_by_value("max_steps")
    set_field(browser, "resume-value", 620)
    browser.find_element(By.ID, "resume-go").click()
    wait(lambda: len(browser.find_elements(By.CSS_SELECTOR, "#jobs .job")) == 2, what="the resumed run")
    resumed = browser.find_elements(By.CSS_SELECTOR, "#jobs .job .status")[0]
    wait(lambda: "finished" in resumed.text and "step 620" in resumed.text, 120, "the resumed run's end")

    # a file classified, with every class's probability
    choose_run(browser, "beats")
    wait(lambda: browser.find_element(By.ID, "try-title").text == "Classify a file", what="the classify form")
    browser.find_element(By.ID, "try-file").send_keys(str(folder / "beats.txt"))
    browser.find_element(By.ID, "try-go").click()
    table = wait(lambda: browser.find_elements(By.ID, "probabilities"), what="the probabilities")[0]
    assert len(table.find_elements(By.CSS_SELECTOR, "tr")) == 17 and "16 sequences" in browser.find_element(
        By.ID, "try-output").text

    # a text sample streams and grows
    choose_run(browser, "lady-text")
    wait(lambda: not browser.find_element(By.ID, "try-panel").get_attribute("hidden"), what="the generate form")
    set_field(browser, "try-length", 3000)
    set_field(browser, "try-prime", "The ")
    # every change of the sample's text is recorded in the page, so growth is seen however fast the stream runs
    browser.execute_script("""window.sampleLengths = [];
        new MutationObserver(() => { const t = document.getElementById('stream-text');
                                     if (t) window.sampleLengths.push(t.textContent.length); })
            .observe(document.getElementById('try-output'), {childList: true, subtree: true, characterData: true});""")
    browser.find_element(By.ID, "try-go").click()
    text = wait(lambda: browser.find_elements(By.ID, "stream-text"), what="the sample")[0]
    wait(lambda: len(text.text) > 10, what="the first part")
    grew = lambda: sorted({n for n in browser.execute_script("return window.sampleLengths") if n > 0})  # noqa: E731
    wait(lambda: len(grew()) >= 5 and grew()[-1] > grew()[0] + 50, what="the sample growing part by part")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", text)
    browser.save_screenshot(str(shots / "studio-generate.png"))
    browser.find_element(By.ID, "try-cancel").click()

    # the gates of the text model reading a typed input
    set_field(browser, "inspect-text", "The quick brown fox jumps over the lazy dog.")
    browser.find_element(By.ID, "inspect-go").click()
    frame = wait(lambda: [f for f in browser.find_elements(By.ID, "gate-view") if f.is_displayed()], what="the gates")[0]
    browser.execute_script("arguments[0].scrollIntoView()", frame)
    browser.switch_to.frame(frame)
    wait(lambda: len(browser.find_elements(By.CSS_SELECTOR, "#text .tok")) == 44, what="the gate view's tokens")
    browser.switch_to.default_content()
    browser.save_screenshot(str(shots / "studio-gates.png"))

    # a music sample: a piano roll, a WAV that is not silent, and its downloads
    choose_run(browser, "tunes")
    wait(lambda: browser.find_element(By.ID, "try-title").text == "Generate music", what="the music form")
    set_field(browser, "try-seed", 2)
    set_field(browser, "try-bars", 4)
    browser.find_element(By.ID, "try-go").click()
    wait(lambda: browser.find_elements(By.CSS_SELECTOR, "#piano-roll rect.note"), 60, "the piano roll")
    audio = browser.find_element(By.ID, "music-audio")
    peak = browser.execute_async_script("""
        const done = arguments[arguments.length - 1];
        fetch(arguments[0].src).then((r) => r.arrayBuffer()).then((buffer) => {
          const view = new DataView(buffer); let peak = 0;
          for (let i = 44; i + 1 < buffer.byteLength; i += 2) peak = Math.max(peak, Math.abs(view.getInt16(i, true)));
          done(peak);
        }).catch((e) => done(-1));""", audio)
    assert peak > 1000, peak
    assert browser.execute_async_script("""
        const done = arguments[arguments.length - 1], audio = arguments[0];
        audio.play().then(() => setTimeout(() => done(audio.currentTime > 0 && !audio.paused), 600)).catch(() => done(false));
        """, audio)
    links = [a.text.strip() for a in browser.find_elements(By.CSS_SELECTOR, "#try-output a")]
    assert {"midi", "musicxml", "wav"} <= set(links)
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", audio)
    browser.save_screenshot(str(shots / "studio-music.png"))

    # a forecast with its band, and its zoom
    choose_run(browser, "airline")
    wait(lambda: browser.find_element(By.ID, "try-title").text == "Forecast", what="the forecast form")
    set_field(browser, "try-horizon", 24)
    browser.find_element(By.ID, "try-go").click()
    chart = wait(lambda: browser.find_elements(By.ID, "band-chart"), what="the forecast chart")[0]
    assert chart.find_elements(By.CSS_SELECTOR, "polygon.band") and chart.find_elements(By.CSS_SELECTOR,
                                                                                          "polyline.continued")
    whole = chart.find_element(By.CSS_SELECTOR, "polyline.continued").get_attribute("points")
    Select(browser.find_element(By.ID, "band-zoom")).select_by_value("end")
    assert chart.find_element(By.CSS_SELECTOR, "polyline.continued").get_attribute("points") != whole
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", chart)
    browser.save_screenshot(str(shots / "studio-forecast.png"))

    # a translation with its attention picture
    choose_run(browser, "dates")
    wait(lambda: browser.find_element(By.ID, "try-title").text == "Translate", what="the translation form")
    set_field(browser, "try-text", "March 3, 2001")
    browser.find_element(By.ID, "try-go").click()
    wait(lambda: browser.find_elements(By.CSS_SELECTOR, "#attention td"), what="the attention picture")

    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []

    # a mistake is the command line's one line, in the page (the browser notes the refused request, nothing else)
    set_field(browser, "try-beam_size", 0)
    browser.find_element(By.ID, "try-go").click()
    line = wait(lambda: browser.find_element(By.ID, "try-error").text, what="the error line")
    assert line.startswith("Error: --beam-size") and "\n" not in line

    assert [e["message"].split(" - ")[0] for e in browser.get_log("browser") if e["level"] == "SEVERE"] == [
        f"{address}/api/runs/dates/try"]
    foreign = [url for url in requests_made(browser) if not url.startswith(address + "/") and not url.startswith("data:")]
    assert foreign == []
