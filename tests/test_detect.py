"""Streaming anomaly detection (seqgen detect, seqgen.detect) and NAB's scoring (seqgen.tasks.detect.evaluate):
scores in [0, 1] computed without looking ahead, a spike flagged, the CSV and the plot, a forecast checkpoint
as the forecaster, and the scorer on hand-checked tiny cases."""

import math

import numpy as np
import pytest
from conftest import run

import seqgen
from seqgen.tasks.detect.evaluate import (
    PROFILES,
    best_threshold,
    nab_score,
    probation_length,
    scaled_sigmoid,
    sweep_file,
    window_indices,
)

TINY = {"probation": 60, "window": 4, "hidden_size": 4}


def wave(n=160, spike=None, seed=0):
    rng = np.random.default_rng(seed)
    values = 10 + np.sin(np.arange(n) * 2 * np.pi / 12) + 0.05 * rng.standard_normal(n)
    if spike is not None:
        values[spike] += 8
    return values


def stream_csv(path, values):
    stamps = [f"2024-01-01 {i // 12:02d}:{5 * (i % 12):02d}:00" for i in range(len(values))]
    path.write_text("timestamp,value\n" + "".join(f"{t},{v:.6f}\n" for t, v in zip(stamps, values)))
    return path


# -- the detector ------------------------------------------------------------------------------------------

def test_scores_of_a_prefix_do_not_change_when_records_are_appended():
    values = wave(200, spike=150)
    whole = seqgen.detect(values, **TINY).scores
    for n in (90, 151):
        assert np.array_equal(seqgen.detect(values[:n], **TINY).scores, whole[:n])


def test_the_trivial_forecaster_path_does_not_look_ahead_either():
    class LastValue:
        window = 1

        def one_step(self, values):
            return np.r_[np.nan, values[:-1]]

    values = wave(200, spike=150)
    whole = seqgen.detect(values, LastValue(), probation=60).scores
    assert np.array_equal(seqgen.detect(values[:120], LastValue(), probation=60).scores, whole[:120])


def test_every_score_is_in_0_1_the_probation_is_unscored_and_a_spike_is_flagged():
    detection = seqgen.detect(wave(200, spike=150), **TINY)
    assert np.all((detection.scores >= 0) & (detection.scores <= 1))
    assert not detection.scores[:60].any()
    assert detection.anomaly[150] and detection.scores[150] == detection.scores.max()
    assert np.array_equal(detection.anomaly, detection.scores >= detection.threshold)
    flagged = np.flatnonzero(detection.anomaly)
    assert flagged.min() == 150 and flagged.max() < 150 + 10  # the quiet wave is not; the spike's ten-record echo is


def test_a_detection_draws_itself_from_python(tmp_path):
    detection = seqgen.detect(wave(120, spike=100), **TINY)
    assert detection.plot(tmp_path / "d.png", windows=[(98, 104)]).stat().st_size > 10_000


def test_detect_writes_the_csv_and_the_plot_with_labelled_windows(tmp_path):
    series = stream_csv(tmp_path / "s.csv", wave(200, spike=150))
    labels = tmp_path / "labels.json"
    labels.write_text('[["2024-01-01 12:20:00", "2024-01-01 12:40:00"]]')
    result = run("detect", series, "--output", tmp_path / "scores.csv", "--plot", tmp_path / "a.png",
                 "--labels", labels, "--probation", 60, "--window", 4, "--hidden-size", 4)
    assert result.exit_code == 0, result.output
    lines = (tmp_path / "scores.csv").read_text().splitlines()
    assert lines[0] == "timestamp,value,anomaly_score,anomaly" and len(lines) == 201
    row = lines[151].split(",")
    assert row[0] == "2024-01-01 12:30:00" and row[3] == "1" and 0.5 <= float(row[2]) <= 1
    assert (tmp_path / "a.png").stat().st_size > 10_000


def test_detect_with_a_forecast_checkpoint_trained_on_normal_history(tmp_path):
    normal = stream_csv(tmp_path / "normal.csv", wave(240, seed=1))
    trained = run("train", "--task", "forecast", "--corpus", normal, "--season", 12, "--window", 12, "--horizon", 1,
                  "--no-log-transform", "--epochs", 20, "--ensemble", 1, "--hidden-size", 8, "--device", "cpu",
                  "--quiet", "--output-dir", tmp_path / "runs", "--name", "pump")
    assert trained.exit_code == 0, trained.output
    new = stream_csv(tmp_path / "new.csv", wave(120, spike=100, seed=2))
    result = run("detect", tmp_path / "runs" / "pump", new, "--probation", 40, "--output", tmp_path / "s.csv")
    assert result.exit_code == 0, result.output
    rows = [line.split(",") for line in (tmp_path / "s.csv").read_text().splitlines()[1:]]
    assert rows[100][3] == "1"
    forecaster = seqgen.load(tmp_path / "runs" / "pump")
    values = wave(120, spike=100, seed=2)
    assert np.array_equal(seqgen.detect(values[:80], forecaster, probation=40).scores,
                          seqgen.detect(values, forecaster, probation=40).scores[:80])


def test_gaps_are_read_in_order_when_allowed(tmp_path):
    minutes = [5 * i + (60 if i >= 50 else 0) for i in range(100)]  # an hour missing after record 50
    (tmp_path / "s.csv").write_text("timestamp,value\n" + "".join(
        f"2024-01-01 {m // 60:02d}:{m % 60:02d}:00,{v}\n" for m, v in zip(minutes, wave(100))))
    assert run("detect", tmp_path / "s.csv", "--probation", 60).exit_code == 1
    assert run("detect", tmp_path / "s.csv", "--probation", 60, "--allow-gaps", "--window", 4,
               "--hidden-size", 4).exit_code == 0


# -- NAB's scoring, on cases checked by hand ------------------------------------------------------------------

def test_the_scaled_sigmoid_has_nabs_values():
    assert scaled_sigmoid(-1.0) == pytest.approx(2 / (1 + math.exp(-5)) - 1)  # 0.9866
    assert scaled_sigmoid(0.0) == 0.0 and scaled_sigmoid(3.5) == -1.0
    assert scaled_sigmoid(0.5) == pytest.approx(-0.8483, abs=1e-4)


def test_the_earliest_detection_in_a_window_earns_the_full_reward():
    # 20 records, probation 3, one window of records 10..13 (4 wide)
    scores = np.zeros(20)
    scores[10] = 1.0
    corpus = {"f": (scores, [(10, 13)])}
    assert nab_score(corpus, "standard", threshold=0.5)["raw"] == pytest.approx(1.0)
    assert nab_score(corpus, "standard", threshold=0.5)["score"] == pytest.approx(100.0)
    scores = np.zeros(20)
    scores[12] = 1.0  # two thirds in: σ̃(−2/4) / σ̃(−1) = 0.8483 / 0.9866
    assert nab_score({"f": (scores, [(10, 13)])}, "standard", 0.5)["raw"] == pytest.approx(0.8598, abs=1e-4)


def test_false_positives_cost_the_profile_weight_less_near_a_window():
    scores = np.zeros(20)
    scores[[5, 15]] = 1.0  # before any window: −fp; two records after a 4-wide window: σ̃(2/3) fp = −0.9311 fp
    raw = nab_score({"f": (scores, [(10, 13)])}, "standard", 0.5)["raw"]
    assert raw == pytest.approx(-1.0 - 0.11 - 0.9311 * 0.11, abs=1e-4)  # the window missed: −fn
    low_fn = nab_score({"f": (scores, [(10, 13)])}, "reward_low_FN_rate", 0.5)
    assert low_fn["raw"] == pytest.approx(-2.0 - 0.11 - 0.9311 * 0.11, abs=1e-4)
    assert low_fn["score"] == pytest.approx(100 * (low_fn["raw"] + 2) / 3)


def test_probation_records_are_not_scored():
    assert probation_length(20) == 3 and probation_length(10_000) == 750
    scores = np.zeros(20)
    scores[1] = 1.0  # a detection inside the probation costs nothing
    assert nab_score({"f": (scores, [(10, 13)])}, "standard", 0.5)["raw"] == pytest.approx(-1.0)
    assert sweep_file(scores, [(0, 2)], PROFILES["standard"]).windows == 0


def test_the_threshold_sweep_finds_the_best_threshold_over_the_corpus():
    a = np.zeros(20)
    a[[10, 16]] = [0.9, 0.95]  # the 0.95 is a false positive 3 records after the window: −0.11 σ̃(1)
    b = np.zeros(20)
    b[[11, 5]] = [0.8, 0.7]  # the 0.7 is a false positive before any window: −0.11
    files = [sweep_file(a, [(10, 13)], PROFILES["standard"]), sweep_file(b, [(10, 13)], PROFILES["standard"])]
    threshold, raw = best_threshold(files, PROFILES["standard"])
    caught_b = float(scaled_sigmoid(-3 / 4) / scaled_sigmoid(-1.0))
    assert threshold == 0.8
    assert raw == pytest.approx(1.0 + caught_b + 0.11 * float(scaled_sigmoid(1.0)), abs=1e-9)


def test_windows_are_found_by_timestamp():
    stamps = ["2014-04-01 00:00:00", "2014-04-01 00:05:00", "2014-04-01 00:10:00", "2014-04-01 00:15:00"]
    assert window_indices(stamps, [["2014-04-01 00:05:00.000000", "2014-04-01 00:10:00.000000"]]) == [(1, 2)]


def test_a_corpus_without_windows_has_a_raw_score_and_no_normalised_one():
    scores = np.zeros(20)
    scores[[5, 6]] = 1.0
    found = nab_score({"f": (scores, [])}, "standard", 0.5)
    assert found["raw"] == pytest.approx(-0.22) and found["score"] is None


def test_detecting_leaves_the_callers_random_generator_alone():
    import torch

    state = torch.get_rng_state()
    seqgen.detect(wave(100), **TINY)
    assert torch.equal(state, torch.get_rng_state())
