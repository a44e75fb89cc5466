"""`seqgen serve`: every endpoint of the studio through Starlette's test client, the bad inputs it must refuse in
one line, and the guard (token, cross-site requests, paths confined to the output folder)."""

import json
import time
import warnings

import numpy as np
import pytest

import seqgen

pytest.importorskip("starlette")
with warnings.catch_warnings():  # the test client's note about a future httpx
    warnings.simplefilter("ignore", DeprecationWarning)
    from starlette.testclient import TestClient

from seqgen.studio.app import create_app  # noqa: E402

BASE = "http://127.0.0.1:8008"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Tiny runs of every task in one output folder (a language model, a translator, a forecaster, a classifier)."""
    from conftest import make_text

    folder = tmp_path_factory.mktemp("studio")
    (folder / "corpus.txt").write_text(make_text(400), encoding="utf-8")
    out = {"output_dir": str(folder / "runs"), "progress": False}
    seqgen.train("language-model", corpus=str(folder / "corpus.txt"), max_steps=4, batch_size=4, bptt=8, eval_interval=4,
                 hidden_size=8, embedding_dim=8, device="cpu", name="lm", **out)
    seqgen.train("translate", train_pairs=200, max_steps=2, eval_interval=2, hidden_size=8, embedding_dim=8, name="tr",
                 **out)
    seqgen.train("forecast", epochs=2, ensemble=1, hidden_size=4, name="fc", **out)
    rng = np.random.default_rng(0)
    rows = [f"{1 + i % 2} " + " ".join(f"{(i % 2) * 2.0 + 0.1 * t + 0.05 * rng.standard_normal():.3f}" for t in range(12))
            for i in range(16)]
    (folder / "beats.txt").write_text("\n".join(rows) + "\n")
    seqgen.train("classify", corpus=str(folder / "beats.txt"), epochs=2, ensemble=1, hidden_size=4, conv_channels=2,
                 name="cl", **out)
    return folder


@pytest.fixture
def client(runs):
    app = create_app(runs / "runs", max_upload_bytes=4096)
    client = TestClient(app, base_url=BASE)
    client.headers["X-Seqgen-CSRF"] = app.state.studio.csrf
    return client


def error_of(response, status=400):
    assert response.status_code in ((status,) if isinstance(status, int) else status), response.text
    line = response.json()["error"]
    assert line.startswith("Error: ") and "\n" not in line and "Traceback" not in line
    return line


def test_the_page_and_its_files_are_served_by_seqgen_itself(client):
    page = client.get("/")
    assert page.status_code == 200 and "seqgen studio" in page.text
    assert "http" not in page.text.replace('xmlns="http://www.w3.org', "")  # nothing fetched from another host
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for name in ("studio.js", "studio.css"):
        served = client.get(f"/static/{name}")
        assert served.status_code == 200 and "https://" not in served.text and "//cdn" not in served.text
    error_of(client.get("/static/..%2Fapp.py"), 404)
    error_of(client.get("/static/app.py"), 404)


def test_the_runs_list_shows_every_task_with_its_state(client, runs):
    listed = {run["name"]: run for run in client.get("/api/runs").json()["runs"]}
    assert set(listed) == {"lm", "tr", "fc", "cl"}  # `last` (a link) is not a run of its own
    assert {run["task"] for run in listed.values()} == set(seqgen.tasks.TASKS[:4])
    assert all(run["state"] == "finished" for run in listed.values())
    assert listed["lm"]["corpus"].endswith("corpus.txt") and listed["lm"]["best_val_loss"] > 0
    detail = client.get("/api/runs/cl").json()
    assert detail["curves"]["x"] == "epoch" and len(detail["curves"]["training"]) == 2
    assert client.get("/api/runs/lm").json()["curves"]["validation"][0][0] == 4
    assert "train_config" in detail["settings"] and "best.pt" in detail["files"]
    assert client.get("/api/runs/lm/files/run.json").json()["task"] == "language-model"


@pytest.mark.parametrize("path", ["/api/runs/nope", "/api/runs/..", "/api/runs/.studio", "/api/runs/last",
                                  "/api/runs/%2E%2E", "/api/runs/lm/files/%2E%2E", "/api/runs/lm/files/.lock",
                                  "/api/runs/lm/files/%2E%2E%2Fcorpus.txt", "/api/runs/..%2F..%2Fetc/form",
                                  "/api/samples/0123/x", "/api/views/nope", "/api/jobs/nope"])
def test_no_request_reaches_outside_the_output_folder(client, path):
    error_of(client.get(path), (400, 404))


def test_a_run_name_is_never_a_path(client, runs):
    (runs / "runs" / "escape").symlink_to(runs / "runs" / "lm", target_is_directory=True)
    try:
        error_of(client.get("/api/runs/escape"), 404)
    finally:
        (runs / "runs" / "escape").unlink()


def test_each_task_offers_its_own_form_and_answers(client, runs):
    views = {name: client.get(f"/api/runs/{name}/form").json()["try"]["view"] for name in ("lm", "tr", "fc", "cl")}
    assert views == {"lm": "stream", "tr": "translation", "fc": "band", "cl": "probabilities"}
    translation = client.post("/api/runs/tr/try", json={"values": {"text": "March 3, 2001", "beam_size": 2}}).json()
    assert isinstance(translation["translation"], str)
    assert np.array(translation["weights"]).shape == (len(translation["target"]), len(translation["source"]))
    forecast = client.post("/api/runs/fc/try", json={"values": {"horizon": 6}}).json()
    assert len(forecast["rows"]) == 6 and all(r["lower"] <= r["value"] <= r["upper"] for r in forecast["rows"])
    assert len(forecast["history"]) == 144
    lines = (runs / "beats.txt").read_text().splitlines()[:2]
    upload = client.post("/api/uploads?name=beats.txt", content="\n".join(lines).encode() + b"\n").json()
    classified = client.post("/api/runs/cl/try", json={"values": {"file": upload["name"]}}).json()
    assert [r["row"] for r in classified["rows"]] == [1, 2]
    assert all(sum(r["probabilities"].values()) == pytest.approx(1) for r in classified["rows"])


def test_text_streams_as_server_sent_events(client):
    values = json.dumps({"prime": "the ", "length": 40, "seed": 3})
    with client.stream("GET", "/api/runs/lm/stream", params={"values": values}) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        body = response.read().decode()
    events = [block.split("\n") for block in body.strip().split("\n\n")]
    parts = [json.loads(lines[1][len("data: "):]) for lines in events if lines[0] == "event: part"]
    assert events[-1][0] == "event: end" and parts[0] == "the " and len("".join(parts)) == 44
    same = client.get("/api/runs/lm/stream", params={"values": values}).text
    assert same == body  # the seed fixes the sample


@pytest.mark.parametrize("values, words", [
    ('{"temperature": NaN}', "finite"), ('{"temperature": Infinity}', "finite"), ('{"top_p": 2}', "--top-p"),
    ('{"length": 0}', "--length"), ('{"colour": 1}', "not a field"), ("not json", "JSON"), ('[1]', "JSON object"),
])
def test_bad_sampling_options_are_one_line(client, values, words):
    assert words in error_of(client.get("/api/runs/lm/stream", params={"values": values}))


def test_a_verb_of_another_task_is_one_line(client):
    assert "streams its text" in error_of(client.post("/api/runs/lm/try", json={"values": {}}))
    assert "draws no streamed text" in error_of(client.get("/api/runs/tr/stream"))
    assert "not a field" in error_of(client.post("/api/runs/fc/try", json={"values": {"text": "x"}}))
    assert "takes no text" in error_of(client.post("/api/runs/fc/inspect", json={"text": "x"}))
    assert "--horizon" in error_of(client.post("/api/runs/fc/try", content=b'{"values": {"horizon": NaN}}'))
    assert "upload" in error_of(client.post("/api/runs/cl/try", json={"values": {"file": "../beats.txt"}}))
    error_of(client.post("/api/runs/cl/try", json={"values": {"file": "missing.txt"}}), 404)


def test_the_gate_view_of_inspect(client):
    shown = client.post("/api/runs/lm/inspect", json={"text": "the quick brown fox"}).json()
    assert shown["steps"] == len("the quick brown fox")
    page = client.get(shown["view"])
    assert page.status_code == 200 and "<script" in page.text and "default-src 'none'" in page.headers[
        "content-security-policy"]
    assert client.post("/api/runs/fc/inspect", json={"options": {"member": 0}}).json()["steps"] > 0
    assert "--member" in error_of(client.post("/api/runs/fc/inspect", json={"options": {"member": 7}}))
    assert "--part" in error_of(client.post("/api/runs/tr/inspect", json={"text": "x", "options": {"part": "middle"}}))
    assert "options of inspect" in error_of(client.post("/api/runs/lm/inspect", json={"options": {"layer": 1}}))


def test_uploads_are_capped_checked_and_kept_inside(client, runs):
    assert "larger than" in error_of(client.post("/api/uploads?name=big.txt", content=b"a" * 5000), 413)
    assert "binary" in error_of(client.post("/api/uploads?name=bin.txt", content=b"\x00\x01\x02" * 10)).lower()
    assert "not a file seqgen reads" in error_of(client.post("/api/uploads?name=x.exe", content=b"MZ"))
    assert "not a MIDI file" in error_of(client.post("/api/uploads?name=x.mid", content=b"hello"))
    saved = client.post("/api/uploads?name=../../evil.txt", content=b"some text\n").json()
    assert saved["name"] == "evil.txt" and (runs / "runs" / ".studio" / "uploads" / "evil.txt").is_file()
    assert not (runs / "evil.txt").exists()
    assert [u["name"] for u in client.get("/api/uploads").json()["uploads"]].count("evil.txt") == 1
    assert not list((runs / "runs" / ".studio" / "uploads").glob("bin*"))  # a refused upload leaves nothing


def test_training_options_are_confined_and_checked(client):
    assert "unknown task" in error_of(client.post("/api/train", json={"task": "poetry"}))
    assert "cannot be set" in error_of(client.post("/api/train", json={"task": "forecast",
                                                                       "options": {"output_dir": "/tmp"}}))
    assert "neither a built-in corpus nor an upload" in error_of(client.post(
        "/api/train", json={"task": "language-model", "options": {"corpus": "/etc/passwd"}}))
    assert "already holds a run" in error_of(client.post("/api/train", json={"task": "forecast",
                                                                              "options": {"name": "fc"}}))
    assert "plain folder name" in error_of(client.post("/api/train", json={"task": "forecast",
                                                                            "options": {"name": "../x"}}))
    assert "cannot change" in error_of(client.post("/api/runs/fc/resume", json={"options": {"hidden_size": 3}}))


def wait_for(client, job, states=("finished", "interrupted", "failed"), seconds=90):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job['id']}").json()
        if job["state"] in states:
            return job
        time.sleep(0.2)
    raise AssertionError(job)


@pytest.mark.slow
def test_training_runs_in_its_own_process_stops_like_ctrl_c_and_resumes(client, runs):
    upload = client.post("/api/uploads?name=text.txt", content=(runs / "corpus.txt").read_bytes()[:4000]).json()
    options = {"corpus": upload["name"], "name": "page", "max_steps": 400, "batch_size": 2, "bptt": 8,
               "hidden_size": 8, "embedding_dim": 8, "eval_interval": 1000, "log_interval": 1, "device": "cpu"}
    job = client.post("/api/train", json={"task": "language-model", "options": options}).json()
    assert "another seqgen run is writing" in error_of(client.post("/api/train", json={"task": "language-model",
                                                                                        "options": options}))
    job = wait_for(client, job, ("running",))
    assert "another seqgen run is writing" in error_of(client.post("/api/runs/page/resume", json={}))
    other = create_app(runs / "runs")  # another server: only the run folder's lock tells it
    other_client = TestClient(other, base_url=BASE, headers={"X-Seqgen-CSRF": other.state.studio.csrf})
    assert "another seqgen run is writing" in error_of(other_client.post(
        "/api/train", json={"task": "language-model", "options": options}))
    assert {r["name"]: r["state"] for r in client.get("/api/runs").json()["runs"]}.get("page", "running") == "running"
    client.post(f"/api/jobs/{job['id']}/stop")
    job = wait_for(client, job)
    assert job["state"] == "interrupted" and job["points"], job
    assert (runs / "runs" / "page" / "latest.pt").is_file()
    assert {r["name"]: r["state"] for r in client.get("/api/runs").json()["runs"]}["page"] == "interrupted"
    resumed = wait_for(client, client.post("/api/runs/page/resume", json={"options": {"max_steps": 405}}).json())
    assert resumed["state"] == "finished", resumed
    assert {r["name"]: r["state"] for r in client.get("/api/runs").json()["runs"]}["page"] == "finished"
    failed = wait_for(client, client.post("/api/train", json={"task": "language-model", "options": {
        **options, "name": "bad", "lr": 0}}).json())
    assert failed["state"] == "failed" and failed["error"].startswith("Error: --lr") and "\n" not in failed["error"]


def test_the_guard_token_cross_site_and_host(runs):
    app = create_app(runs / "runs", token="s3cret-token-of-the-studio", loopback_only=False)
    csrf = app.state.studio.csrf
    client = TestClient(app, base_url="http://192.0.2.7:8008")
    assert "access token" in error_of(client.get("/"), 401)
    assert "access token" in error_of(client.get("/api/runs"), 401)
    assert "access token" in error_of(client.get("/api/runs", headers={"X-Seqgen-Token": "wrong"}), 401)
    page = client.get("/?token=s3cret-token-of-the-studio")
    assert page.status_code == 200
    assert client.get("/static/studio.js").status_code == 200  # what the page loads by itself: code, no data
    token = {"X-Seqgen-Token": "s3cret-token-of-the-studio"}
    assert client.get("/api/runs", headers=token).status_code == 200
    assert client.get("/api/runs/lm/files/run.json?token=s3cret-token-of-the-studio").status_code == 200
    # a change needs the page's own CSRF token, and no other site's Origin or Sec-Fetch-Site
    body = {"task": "poetry"}
    assert "page's token" in error_of(client.post("/api/train", json=body, headers=token), 403)
    both = {**token, "X-Seqgen-CSRF": csrf}
    assert "unknown task" in error_of(client.post("/api/train", json=body, headers=both))
    assert "another site" in error_of(client.post("/api/train", json=body,
                                                  headers={**both, "Origin": "http://evil.example"}), 403)
    assert "another site" in error_of(client.post("/api/train", json=body,
                                                  headers={**both, "Sec-Fetch-Site": "cross-site"}), 403)
    assert "another site" in error_of(client.get("/api/runs", headers={**token, "Sec-Fetch-Site": "same-site"}), 403)
    assert "unknown task" in error_of(client.post("/api/train", json=body, headers={
        **both, "Origin": "http://192.0.2.7:8008", "Sec-Fetch-Site": "same-origin"}))


def test_on_loopback_it_answers_only_to_this_machine_and_refuses_cross_site_changes(runs):
    app = create_app(runs / "runs")
    client = TestClient(app, base_url=BASE)
    assert client.get("/api/runs").status_code == 200
    assert TestClient(app, base_url="http://localhost:8008").get("/api/runs").status_code == 200
    assert TestClient(app, base_url="http://[::1]:8008").get("/api/runs").status_code == 200
    rebound = TestClient(app, base_url="http://evil.example:8008")  # DNS rebinding: another name for this address
    assert "answers only to 127.0.0.1" in error_of(rebound.get("/api/runs"), 421)
    for headers in ({}, {"X-Seqgen-CSRF": "guess"}, {"X-Seqgen-CSRF": app.state.studio.csrf, "Origin": "null"}):
        error_of(client.post("/api/uploads?name=a.txt", content=b"text\n", headers=headers), 403)
    assert not (runs / "runs" / ".studio" / "uploads" / "a.txt").exists()
    page = client.get("/").text
    assert app.state.studio.csrf in page  # the page carries its token; another site's page cannot read it


def test_a_corrupt_checkpoint_or_a_bad_request_never_ends_the_server(client, runs):
    import shutil

    broken = runs / "runs" / "broken"
    shutil.copytree(runs / "runs" / "lm", broken)
    data = (broken / "best.pt").read_bytes()
    (broken / "best.pt").write_bytes(data[: len(data) // 2])
    try:
        assert "broken" in error_of(client.get("/api/runs/broken/form"))
        error_of(client.get("/api/runs/broken/stream"))
        error_of(client.post("/api/runs/broken/inspect", json={"text": "a"}))
        assert "JSON" in error_of(client.post("/api/runs/lm/inspect", content=b"{not json"))
        assert "JSON object" in error_of(client.post("/api/runs/lm/inspect", content=b"[]"))
        assert "larger than" in error_of(client.post("/api/runs/lm/inspect", content=b" " * (2 << 20)), 413)
        error_of(client.delete("/api/runs"), 405)
        assert "text" in error_of(client.post("/api/runs/lm/inspect", json={"text": 5}))
        assert client.get("/api/runs").status_code == 200  # still answering
        assert {r["name"] for r in client.get("/api/runs").json()["runs"]} >= {"broken", "lm"}
    finally:
        shutil.rmtree(broken)


def test_a_client_leaving_mid_stream_stops_the_sampler(client):
    import threading

    before = {t.ident for t in threading.enumerate() if t.name == "seqgen-sample"}
    values = json.dumps({"length": 10_000_000, "seed": 1})
    with client.stream("GET", "/api/runs/lm/stream", params={"values": values}) as response:
        lines = response.iter_lines()
        assert next(lines) == "event: part"
        assert {t.ident for t in threading.enumerate() if t.name == "seqgen-sample"} - before  # drawing
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        left = {t.ident for t in threading.enumerate() if t.name == "seqgen-sample"} - before
        if not left:
            break
        time.sleep(0.05)
    assert not left, "the sampler thread kept drawing after its client left"
    assert client.get("/api/runs").status_code == 200


@pytest.fixture
def served(monkeypatch):
    """What `seqgen serve` would run: uvicorn.run's arguments, recorded instead of listening."""
    import uvicorn

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append((app, options)))
    return calls


def test_seqgen_serve_listens_on_127_0_0_1_unless_told_and_then_needs_a_token(served, tmp_path):
    from conftest import one_line_error, run

    result = run("serve", "--output-dir", tmp_path / "runs")
    assert result.exit_code == 0, result.output
    app, options = served[-1]
    assert options["host"] == "127.0.0.1" and options["port"] == 8008
    assert app.state.studio.token is None and app.state.studio.loopback_only
    assert "http://127.0.0.1:8008/" in result.output and "token" not in result.output.split("http")[1]

    result = run("serve", "--output-dir", tmp_path / "runs", "--host", "0.0.0.0")
    app, options = served[-1]
    token = app.state.studio.token
    assert options["host"] == "0.0.0.0" and token and len(token) >= 24 and not app.state.studio.loopback_only
    assert f"?token={token}" in result.output
    assert "at least 16" in one_line_error(run("serve", "--host", "0.0.0.0", "--token", "short"))
    (tmp_path / "file").write_text("x")
    assert "is a file" in one_line_error(run("serve", "--output-dir", tmp_path / "file"))


def test_a_progress_listener_sees_every_task_train_and_run_json_says_how_a_run_ended(tmp_path, corpus_file):
    from seqgen.training import report_progress

    for task, options in (("language-model", {"corpus": str(corpus_file), "max_steps": 6, "log_interval": 2,
                                              "eval_interval": 6, "hidden_size": 8, "embedding_dim": 8, "bptt": 8,
                                              "batch_size": 2}),
                          ("forecast", {"epochs": 2, "ensemble": 1, "hidden_size": 4})):
        seen = []
        with report_progress(seen.append):
            run = seqgen.train(task, output_dir=str(tmp_path), name=task, progress=False, **options)
        assert seen and seen[-1]["fraction"] == pytest.approx(1.0), (task, seen)
        assert any("loss" in state["postfix"] for state in seen), (task, seen)
        assert json.loads((run.run_dir / "run.json").read_text())["stop_reason"] == "budget"
    steps = iter(range(100))
    stopped = seqgen.train("language-model", corpus=str(corpus_file), max_steps=50, hidden_size=8, embedding_dim=8,
                           bptt=8, batch_size=2, output_dir=str(tmp_path), name="stopped", progress=False,
                           should_stop=lambda: next(steps) >= 3)
    assert json.loads((stopped.run_dir / "run.json").read_text())["stop_reason"] == "interrupted"


@pytest.mark.slow
@pytest.mark.parametrize("entry", [["-m", "seqgen"], ["-c", "from seqgen.cli import main; main()"]])
def test_seqgen_serve_trains_in_a_process_of_its_own_whatever_started_it(tmp_path, entry):
    """`python -m seqgen serve` and the `seqgen` script: the training process starts afresh (it does not run the
    command line again), trains and reports."""
    import re
    import socket
    import subprocess
    import sys
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, *entry, "serve", "--output-dir", str(tmp_path), "--port", str(port)],
                              stderr=subprocess.PIPE, text=True)
    address = f"http://127.0.0.1:{port}"

    def ask(path, body=None, csrf=""):
        request = urllib.request.Request(address + path, data=None if body is None else json.dumps(body).encode(),
                                         headers={"X-Seqgen-CSRF": csrf, "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.read().decode()

    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                page = ask("/")
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "the server did not start"
                time.sleep(0.2)
        csrf = re.search(r'name="seqgen-csrf" content="([^"]+)"', page).group(1)
        job = json.loads(ask("/api/train", {"task": "forecast", "options": {"epochs": 2, "ensemble": 1,
                                                                             "hidden_size": 4, "name": "f"}}, csrf))
        while job["state"] not in ("finished", "failed", "interrupted"):
            assert time.monotonic() < deadline + 60, job
            time.sleep(0.3)
            job = json.loads(ask(f"/api/jobs/{job['id']}"))
        assert job["state"] == "finished", job
        assert json.loads(ask("/api/runs"))["runs"][0]["state"] == "finished"
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.slow
def test_stopping_twice_or_ending_the_server_still_saves_latest_pt(runs):
    app = create_app(runs / "runs")
    with TestClient(app, base_url=BASE, headers={"X-Seqgen-CSRF": app.state.studio.csrf}) as client:
        job = client.post("/api/train", json={"task": "forecast", "options": {
            "epochs": 100000, "ensemble": 1, "hidden_size": 4, "name": "twice"}}).json()
        job = wait_for(client, job, ("running",))
        time.sleep(1.0)
        client.post(f"/api/jobs/{job['id']}/stop")
        client.post(f"/api/jobs/{job['id']}/stop")  # a second press: not a second Ctrl-C
        assert wait_for(client, job)["state"] == "interrupted"
        job = client.post("/api/runs/twice/resume", json={}).json()
        wait_for(client, job, ("running",))
        time.sleep(1.0)
    # the client's exit ended the application: its run was stopped as Ctrl-C stops it
    summary = create_app(runs / "runs").state.studio.library.summary(runs / "runs" / "twice")
    assert summary["state"] == "interrupted", summary
