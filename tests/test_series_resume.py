"""Forecast and classify on the spine: latest.pt holds the full state of an ensemble run, so an interrupted run
resumed gives the same networks bit for bit; resuming changes nothing but --device; unfinished, damaged or old
checkpoints are one line; the Python API's verbs; each task's own defaults in --help and run.json."""

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import one_line_error, run

import seqgen
from seqgen.checkpoint import load_checkpoint, save_checkpoint
from seqgen.errors import SeqgenError

FORECAST = {"epochs": 6, "ensemble": 2, "hidden_size": 8, "num_layers": 2, "dropout": 0.2, "window": 12, "horizon": 6,
            "progress": False}
# A high learning rate makes the networks run out of --patience before their last epoch.
CLASSIFY = {"epochs": 20, "ensemble": 2, "hidden_size": 8, "conv_channels": 4, "batch_size": 8, "patience": 3,
            "dropout": 0.2, "lr": 0.1, "progress": False}


def stop_at(call):
    """A should_stop that turns true on its `call`-th poll (polled once per epoch and once per finished network)."""
    calls = {"n": 0}

    def should_stop():
        calls["n"] += 1
        return calls["n"] == call

    return should_stop


def same_networks(a, b):
    return len(a) == len(b) and all(x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x)
                                    for x, y in zip(a, b))


def ucr(path, n=24, seed=0):
    rng = np.random.default_rng(seed)
    lines = []
    for i in range(n):
        label = 1 if i % 2 else -1
        values = label * np.linspace(-1, 1, 20) + 0.3 * rng.standard_normal(20)
        lines.append(" ".join([str(label)] + [f"{v:.4f}" for v in values]))
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def straight_forecast(tmp_path_factory):
    root = tmp_path_factory.mktemp("forecast-straight")
    return seqgen.train("forecast", output_dir=str(root), name="straight", **FORECAST)


# Polls: network 1 after epochs 1-5 (calls 1-5), its end (6), network 2 after epochs 1-5 (7-11).
@pytest.mark.slow
@pytest.mark.parametrize("call", [2, 6, 8])
def test_an_interrupted_forecast_run_resumes_to_the_same_networks_bit_for_bit(straight_forecast, tmp_path, call):
    stopped = seqgen.train("forecast", output_dir=str(tmp_path), name="r", should_stop=stop_at(call), **FORECAST)
    assert stopped.stop_reason == "interrupted" and not stopped.best_path.exists()
    state = load_checkpoint(stopped.latest_path, task="forecast")["train_state"]
    assert state["complete"] is False and state["member"] == (0 if call < 6 else 1)
    resumed = seqgen.train("forecast", resume=str(stopped.run_dir), progress=False, should_stop=lambda: False)
    assert resumed.stop_reason == "budget" and resumed.members_done == 2
    a = load_checkpoint(straight_forecast.best_path, task="forecast")
    b = load_checkpoint(resumed.best_path, task="forecast")
    assert same_networks(a["members"], b["members"])
    assert a["history"] == b["history"] and a["residual_std"] == b["residual_std"]
    assert seqgen.load(resumed.run_dir).forecast(horizon=3) == seqgen.load(straight_forecast.run_dir).forecast(horizon=3)


@pytest.mark.slow
def test_forecast_resume_refuses_changes_unfinished_and_old_checkpoints_in_one_line(straight_forecast, tmp_path):
    stopped = seqgen.train("forecast", output_dir=str(tmp_path), name="r", should_stop=stop_at(3), **FORECAST)
    with pytest.raises(SeqgenError, match="--epochs, --lr cannot change when resuming a forecast run; only --device"):
        seqgen.train("forecast", resume=str(stopped.run_dir), epochs=9, lr=0.1)
    with pytest.raises(SeqgenError, match="unfinished run .0 of 2 networks trained.*--resume"):
        seqgen.load(stopped.latest_path)
    assert "unfinished run" in one_line_error(run("forecast", stopped.latest_path))
    # a checkpoint of an earlier seqgen (no training state) still forecasts, but cannot be resumed
    old = {k: v for k, v in load_checkpoint(straight_forecast.latest_path).items() if k != "train_state"}
    save_checkpoint(old, tmp_path / "old" / "latest.pt")
    assert len(seqgen.load(tmp_path / "old" / "latest.pt").forecast(horizon=2)) == 2
    with pytest.raises(SeqgenError, match="holds no training state to resume"):
        seqgen.train("forecast", resume=str(tmp_path / "old"))
    # the command line continues a run too, with the same report as a straight one
    result = run("train", "--task", "forecast", "--resume", stopped.run_dir, "--device", "cpu", "--quiet")
    assert result.exit_code == 0, result.output
    assert "Trained on 144 points" in result.output


@pytest.mark.parametrize("edit, expected", [
    (lambda p: p.update(residual_std=[1.0]), "residual_std has 1 steps"),
    (lambda p: p["members"][0].update({"head.weight": torch.zeros(3, 3)}), "damaged (RuntimeError"),
    (lambda p: p["preprocessing"].update(scale=float("nan")), "out of range"),
    (lambda p: p["series"].update(values=[1.0, "x"]), "series holds a value that is not a finite number"),
    (lambda p: p.pop("members"), "lacks 'members'"),
    (lambda p: p["train_config"].update(lr=-1.0), "--lr must be > 0"),
])
def test_a_hand_edited_forecast_checkpoint_is_one_line(straight_forecast, tmp_path, edit, expected):
    payload = load_checkpoint(straight_forecast.best_path)
    edit(payload)
    path = save_checkpoint(payload, tmp_path / "edited.pt")
    with pytest.raises(SeqgenError, match="edited.pt is damaged"):
        seqgen.load(path)
    message = one_line_error(run("forecast", path))
    assert expected in message and "damaged" in message


@pytest.fixture(scope="module")
def classify_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("classify-data")
    return ucr(root / "TRAIN.txt"), ucr(root / "TEST.txt", n=10, seed=1)


@pytest.fixture(scope="module")
def straight_classifier(tmp_path_factory, classify_files):
    train, test = classify_files
    root = tmp_path_factory.mktemp("classify-straight")
    return seqgen.train("classify", corpus=str(train), test=str(test), output_dir=str(root), name="straight",
                        **CLASSIFY)


@pytest.mark.slow
@pytest.mark.parametrize("where", ["first network", "between networks", "second network"])
def test_an_interrupted_classify_run_resumes_to_the_same_networks_bit_for_bit(straight_classifier, classify_files,
                                                                             tmp_path, where):
    train, test = classify_files
    a = load_checkpoint(straight_classifier.best_path, task="classify")
    assert any(r["stopped_early"] for r in a["training"])  # the patience counter is part of what must resume
    # Polls: after each epoch of the first network but its last (calls 1 … n-1), at its end (n), then the second's.
    first = a["training"][0]["history"]
    call = {"first network": 2, "between networks": len(first), "second network": len(first) + 3}[where]
    stopped = seqgen.train("classify", corpus=str(train), test=str(test), output_dir=str(tmp_path), name="r",
                           should_stop=stop_at(call), **CLASSIFY)
    assert stopped.stop_reason == "interrupted" and not stopped.best_path.exists()
    state = load_checkpoint(stopped.latest_path, task="classify")["train_state"]
    assert state["member"] == (0 if where == "first network" else 1)
    assert (state["network"] is None) == (where == "between networks")
    if where == "first network":  # the early-stopping state is saved: best weights, best epoch, epochs waited
        assert state["network"]["epoch"] == 2 and state["network"]["best_state"] is not None
        assert state["network"]["waited"] == (1 if first[1]["val_loss"] >= first[0]["val_loss"] else 0)
    resumed = seqgen.train("classify", resume=str(stopped.latest_path), progress=False, should_stop=lambda: False)
    assert resumed.members_done == 2 and resumed.stop_reason == "patience"
    b = load_checkpoint(resumed.best_path, task="classify")
    assert same_networks(a["members"], b["members"])
    assert a["training"] == b["training"] and a["test_report"] == b["test_report"] and a["test_report"] is not None
    assert resumed.report == straight_classifier.report


def test_classify_resume_refuses_changes_and_a_changed_training_file(classify_files, tmp_path):
    train, test = classify_files
    copy = tmp_path / "train.txt"
    copy.write_text(train.read_text())
    stopped = seqgen.train("classify", corpus=str(copy), output_dir=str(tmp_path), name="r", should_stop=stop_at(2),
                           **CLASSIFY)
    with pytest.raises(SeqgenError, match="--patience cannot change when resuming a classify run"):
        seqgen.train("classify", resume=str(stopped.run_dir), patience=10)
    assert "unfinished run" in one_line_error(run("classify", stopped.latest_path, test))
    ucr(copy, seed=5)
    with pytest.raises(SeqgenError, match="changed since the checkpoint was written"):
        seqgen.train("classify", resume=str(stopped.run_dir))


@pytest.mark.parametrize("edit, expected", [
    (lambda p: p.update(classes=["a"]), "two or more distinct"),
    (lambda p: p["model_config"].update(num_classes=3), "3 classes"),
    (lambda p: p["members"][0].pop("head.bias"), "damaged (RuntimeError"),
    (lambda p: p["scaling"].update(std=0.0), "positive standard deviation"),
])
def test_a_hand_edited_classify_checkpoint_is_one_line(straight_classifier, classify_files, tmp_path, edit, expected):
    payload = load_checkpoint(straight_classifier.best_path)
    edit(payload)
    path = save_checkpoint(payload, tmp_path / "edited.pt")
    message = one_line_error(run("classify", path, classify_files[1]))
    assert expected in message and "edited.pt is damaged" in message
    assert "edited.pt is damaged" in one_line_error(run("evaluate", path))


def test_the_api_verbs_of_forecast_and_classify(straight_forecast, straight_classifier, classify_files, tmp_path):
    forecaster = seqgen.load(straight_forecast.run_dir)
    assert forecaster.task == "forecast"
    rows = forecaster.forecast(horizon=4)
    assert [r["date"] for r in rows] == ["1961-01", "1961-02", "1961-03", "1961-04"]
    assert all(set(r) == {"step", "date", "forecast", "lower", "upper"} and r["lower"] <= r["forecast"] <= r["upper"]
               for r in rows)
    assert forecaster.plot(tmp_path / "f.png", table=rows).read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(SeqgenError, match="--plot needs a file name ending in .png"):
        forecaster.plot(tmp_path / "f.txt")
    with pytest.raises(SeqgenError, match="at most 144 steps"):
        forecaster.forecast(horizon=145)
    classifier = seqgen.load(straight_classifier.best_path)
    assert classifier.task == "classify"
    predictions = classifier.classify(str(classify_files[1]))
    assert len(predictions) == 10 and set(predictions[0]) == {"row", "label", "predicted", "probabilities"}
    assert all(abs(sum(p["probabilities"].values()) - 1) < 1e-5 for p in predictions)
    report = classifier.evaluate()
    assert report["source"] == str(classify_files[1]) and report["examples"] == 10


@pytest.mark.slow
def test_each_task_shows_and_records_its_own_defaults(classify_files, tmp_path):
    help_text = run("train", "--task", "forecast", "--help").output
    assert "--ensemble" in help_text and "--patience" not in help_text and "Forecast:" not in help_text
    assert "[default: 32]" in " ".join(help_text.split("--hidden-size", 1)[1].split()[:20])
    help_text = run("train", "--task", "classify", "--help").output
    assert "--patience" in help_text and "--window" not in help_text
    assert "[default: 64]" in " ".join(help_text.split("--hidden-size", 1)[1].split()[:20])
    result = run("train", "--task", "classify", "--corpus", classify_files[0], "--epochs", 2, "--ensemble", 1,
                 "--output-dir", tmp_path, "--name", "c", "--quiet")
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "c" / "run.json").read_text())["train_config"]
    assert (saved["hidden_size"], saved["lr"], saved["patience"], saved["val_fraction"], saved["device"]) == \
        (64, 3e-3, 40, 0.2, "cpu")
    result = run("train", "--task", "forecast", "--epochs", 2, "--ensemble", 1, "--window", 12, "--output-dir",
                 tmp_path, "--name", "f", "--quiet")
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "f" / "run.json").read_text())["train_config"]
    assert (saved["hidden_size"], saved["lr"], saved["batch_size"], saved["season"], saved["corpus"]) == \
        (32, 1e-2, 256, 12, "airline")


@pytest.mark.slow
def test_ctrl_c_during_a_forecast_run_saves_its_full_state_and_exits_130(tmp_path):
    command = [sys.executable, "-m", "seqgen", "train", "--task", "forecast", "--epochs", "100000", "--ensemble", "2",
               "--hidden-size", "8", "--window", "12", "--output-dir", str(tmp_path), "--name", "ctrlc", "--quiet"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    folder, deadline = tmp_path / "ctrlc", time.time() + 60
    while not folder.exists() and time.time() < deadline and process.poll() is None:
        time.sleep(0.1)
    time.sleep(1.0)  # some epochs into the first network
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "Traceback" not in err and "seqgen train --task forecast --resume" in err
    state = load_checkpoint(folder / "latest.pt", task="forecast")["train_state"]
    assert state["member"] == 0 and state["epoch"] > 0 and state["network"]["optimizer_state"]["state"]
    assert not (folder / "best.pt").exists()


# latest.pt of runs stopped part-way (forecast: inside the second network; classify: inside the first), written
# by seqgen 0.1.0 (checkpoint version 1) with the options above.
ENSEMBLE_FIXTURES = Path(__file__).parent / "data" / "ensemble"


def test_a_forecast_run_stopped_by_an_earlier_seqgen_resumes_to_the_same_networks(straight_forecast, tmp_path):
    path = tmp_path / "run" / "latest.pt"
    path.parent.mkdir()
    shutil.copy(ENSEMBLE_FIXTURES / "forecast-interrupted.pt", path)
    resumed = seqgen.train("forecast", resume=str(path), progress=False)
    a = load_checkpoint(straight_forecast.best_path, task="forecast")
    b = load_checkpoint(resumed.best_path, task="forecast")
    assert same_networks(a["members"], b["members"]) and a["history"] == b["history"]
    assert a["residual_std"] == b["residual_std"]


@pytest.mark.slow
def test_a_classify_run_stopped_by_an_earlier_seqgen_resumes_to_the_same_networks(straight_classifier,
                                                                                   classify_files, tmp_path):
    train, test = classify_files
    payload = load_checkpoint(ENSEMBLE_FIXTURES / "classify-interrupted.pt", task="classify")
    payload["train_config"].update(corpus=str(train), test=str(test))  # the files of its run, here
    path = save_checkpoint(payload, tmp_path / "run" / "latest.pt")
    resumed = seqgen.train("classify", resume=str(path), progress=False)
    a = load_checkpoint(straight_classifier.best_path, task="classify")
    b = load_checkpoint(resumed.best_path, task="classify")
    assert same_networks(a["members"], b["members"]) and a["training"] == b["training"]
    assert resumed.report == straight_classifier.report
