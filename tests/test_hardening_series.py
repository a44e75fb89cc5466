"""Forecast and classify inputs that used to give absurd output: horizons and hold-outs past what a model can
continue, non-finite forecasts, dates past the year 9999, and files laid out unlike the training file."""

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import one_line_error, run

import seqgen
from seqgen.checkpoint import load_checkpoint
from seqgen.errors import SeqgenError
from seqgen.tasks.forecast.data import future_dates
from seqgen.tasks.forecast.forecast import check_forecast

AIRLINE = str(Path(seqgen.__file__).parent / "data" / "airline.csv")  # the built-in copy: dates, then values
FORECAST = ["--epochs", 5, "--ensemble", 1, "--hidden-size", 8, "--window", 12, "--horizon", 6, "--device", "cpu", "--quiet"]
CLASSIFY = ["--epochs", 3, "--ensemble", 1, "--hidden-size", 8, "--conv-channels", 4, "--batch-size", 8, "--device", "cpu",
            "--quiet"]


@pytest.fixture(scope="module")
def forecaster(tmp_path_factory):
    root = tmp_path_factory.mktemp("hardening-forecast")
    t = np.arange(60)
    data = root / "sales.csv"
    data.write_text("month,sales\n" + "".join(f"{2000 + i // 12}-{i % 12 + 1:02d},{100 + t[i] + 10 * np.sin(i / 2):.3f}\n"
                                              for i in range(60)))
    result = run("train", "--task", "forecast", "--corpus", data, "--season", 12, "--holdout", 6,
                 "--output-dir", root, "--name", "f", *FORECAST)
    assert result.exit_code == 0, result.output
    return root / "f"


def test_a_horizon_past_the_series_length_is_refused_naming_the_maximum(forecaster):
    message = one_line_error(run("forecast", forecaster, "--horizon", 100000))
    assert "at most 60 steps" in message
    assert "at most 54 steps" in one_line_error(run("forecast", forecaster, "--horizon", 55, "--from-training-end"))
    result = run("forecast", forecaster, "--horizon", 60)
    assert result.exit_code == 0, result.output
    rows = result.stdout.splitlines()[1:]
    assert len(rows) == 60 and rows[-1].split(",")[1] == "2009-12"
    assert all(np.isfinite(float(x)) for row in rows for x in row.split(",")[2:])


def test_non_finite_or_absurd_forecasts_are_refused_with_the_usable_horizon():
    history = np.array([1.0, 2.0, 3.0])
    good = {"forecast": np.array([3.0, 4.0]), "lower": np.array([2.0, 3.0]), "upper": np.array([4.0, 5.0])}
    check_forecast(good, history)
    for bad in (np.inf, np.nan, 1e150):
        result = {**good, "upper": np.array([4.0, bad])}
        with pytest.raises(SeqgenError, match="at step 2.*forecast at most 1 steps"):
            check_forecast(result, history)


def test_evaluate_with_a_holdout_longer_than_its_history_is_refused(forecaster, monkeypatch):
    monkeypatch.setitem(sys.modules, "statsmodels.tsa.statespace.sarimax", None)
    assert "lower --holdout (at most 41" in one_line_error(run("evaluate", forecaster, "--holdout", 100000))
    assert "--holdout 29 or less" in one_line_error(run("evaluate", forecaster, "--holdout", 31))
    result = run("evaluate", forecaster, "--holdout", 6, "--json")
    assert result.exit_code == 0, result.output


def test_future_dates_never_pass_the_year_9999():
    assert future_dates(["9999-10"], 4) == ["+1", "+2", "+3", "+4"]
    assert future_dates(["9998-01-01", "9999-01-01"], 3) == ["+1", "+2", "+3"]
    assert future_dates(["2000-13"], 2) == ["+1", "+2"]
    assert future_dates(["2000-11"], 3) == ["2000-12", "2001-01", "2001-02"]


def ucr(path, n=20, length=24, seed=0):
    rng = np.random.default_rng(seed)
    lines = []
    for i in range(n):
        label = 1 if i % 2 else -1
        values = label * np.linspace(-1, 1, length) + 0.1 * rng.standard_normal(length)
        lines.append(" ".join([str(label)] + [f"{v:.4f}" for v in values]))
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    root = tmp_path_factory.mktemp("hardening-classify")
    train = ucr(root / "TRAIN.txt")
    result = run("train", "--task", "classify", "--corpus", train, "--output-dir", root, "--name", "c", *CLASSIFY)
    assert result.exit_code == 0, result.output
    return root / "c", train


def test_the_airline_csv_is_refused_by_a_classifier_of_ucr_files(classifier):
    run_dir, _ = classifier
    message = one_line_error(run("classify", run_dir, AIRLINE))
    assert "airline.csv is a CSV file with a header ('month', 'passengers')" in message
    assert "trained on a UCR file" in message
    message = one_line_error(run("evaluate", run_dir, "--test", AIRLINE))
    assert "airline.csv is a CSV file" in message


def test_sequences_far_from_the_training_length_are_refused(classifier, tmp_path):
    run_dir, _ = classifier
    short = tmp_path / "short.txt"
    short.write_text("1 0.5\n-1 0.25\n")
    message = one_line_error(run("classify", run_dir, short))
    assert "short.txt has 1 value per row, the model was trained on sequences of 24 values (accepted: 12 to 48)" in message
    long = ucr(tmp_path / "long.txt", length=100)
    assert "has 100 values per row" in one_line_error(run("evaluate", run_dir, "--test", long))
    ok = ucr(tmp_path / "ok.txt", length=30, seed=1)
    assert run("classify", run_dir, ok).exit_code == 0
    values_only = tmp_path / "values.txt"
    values_only.write_text("0.1 0.2\n")
    assert "has 2 values per row" in one_line_error(run("classify", run_dir, values_only, "--no-labels"))


def test_the_training_layout_is_stored_and_old_checkpoints_still_classify(classifier, tmp_path):
    run_dir, train = classifier
    payload = load_checkpoint(run_dir / "best.pt", task="classify")
    assert payload["layout"] == {"format": "ucr", "columns": None, "label_column": 0, "min_length": 24, "max_length": 24,
                                 "cells_per_row": 25, "channels": 1}
    del payload["layout"]
    assert payload["model_config"].pop("input_size") == 1  # written before multichannel input: one channel
    old = tmp_path / "old.pt"
    torch.save({**payload, "version": 1}, old)
    short = tmp_path / "short.txt"
    short.write_text("1 0.5\n-1 0.25\n")
    result = run("classify", old, short)
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 3


def test_a_csv_classifier_refuses_another_header(tmp_path):
    rows = "".join(f"{'up' if i % 2 else 'down'},{i % 3},{(i % 2) * 2 - 1},{(i % 2) * 4 - 2}\n" for i in range(16))
    train = tmp_path / "train.csv"
    train.write_text("kind,a,b,c\n" + rows)
    result = run("train", "--task", "classify", "--corpus", train, "--label-column", "kind", "--output-dir", tmp_path,
                 "--name", "c", *CLASSIFY)
    assert result.exit_code == 0, result.output
    other = tmp_path / "other.csv"
    other.write_text("kind,a,b,d\n" + rows)
    message = one_line_error(run("classify", tmp_path / "c", other))
    assert "other.csv lacks column(s) 'c'; has column(s) 'd' the training file had not" in message
    same = tmp_path / "same.csv"
    same.write_text("kind,a,b,c\n" + rows)
    assert run("classify", tmp_path / "c", same).exit_code == 0


def test_a_column_asked_of_a_file_without_header_is_named_truthfully(tmp_path):
    from seqgen.data.series import read_series_csv

    path = tmp_path / "plain.csv"
    path.write_text("1949-01,112\n1949-02,118\n")
    with pytest.raises(SeqgenError, match="has no header row .* so no column named 'sales'"):
        read_series_csv(path, "sales")
