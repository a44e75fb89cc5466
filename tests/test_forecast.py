import csv
import json
import sys

import numpy as np
import pytest
from conftest import one_line_error, run

from seqgen.checkpoint import load_checkpoint
from seqgen.data.series import load_series
from seqgen.errors import SeqgenError
from seqgen.tasks.forecast.config import ForecastConfig
from seqgen.tasks.forecast.data import future_dates
from seqgen.tasks.forecast.evaluate import metrics, sarima, seasonal_naive
from seqgen.tasks.forecast.forecast import check_forecast, predict
from seqgen.tasks.forecast.train import fit

PNG = b"\x89PNG\r\n\x1a\n"
FAST = ["--epochs", 40, "--ensemble", 2, "--hidden-size", 16, "--window", 24, "--device", "cpu", "--quiet"]


def seasonal_series(n=96, season=12):
    t = np.arange(n)
    return 100 + 0.5 * t + 20 * np.sin(2 * np.pi * t / season)


def write_series_csv(path, values, start_year=2000):
    rows = [f"{start_year + i // 12}-{i % 12 + 1:02d},{v:.3f},{i}" for i, v in enumerate(values)]
    path.write_text("month,sales,index\n" + "\n".join(rows) + "\n")
    return path


@pytest.mark.slow
def test_a_sine_wave_is_forecast_within_tolerance():
    values = seasonal_series(96)
    config = ForecastConfig(window=24, horizon=12, hidden_size=16, epochs=150, ensemble=1, device="cpu")
    state = fit(values[:84], config, season=12)
    result = predict(state, values[:84], 12)
    error = np.sqrt(np.mean((result["forecast"] - values[84:]) ** 2))
    assert error < 2.0  # the wave swings by ±20 around a rising level
    assert np.all(result["lower"] <= result["forecast"]) and np.all(result["forecast"] <= result["upper"])


def test_forecasts_longer_than_the_trained_horizon_continue_from_the_model_output():
    values = seasonal_series(72)
    state = fit(values, ForecastConfig(window=24, horizon=6, hidden_size=8, epochs=40, ensemble=2, device="cpu"), season=12)
    long = predict(state, values, 20)
    short = predict(state, values, 6)
    assert len(long["forecast"]) == 20 and np.all(np.isfinite(long["forecast"]))
    assert np.allclose(long["forecast"][:6], short["forecast"])  # the first chunk is the direct forecast
    width = long["upper"] - long["lower"]
    assert width[-1] > width[0]  # the band widens as the forecast feeds on itself


def test_metrics_and_seasonal_naive_match_hand_computed_values():
    history = np.array([10.0, 20.0, 30.0, 12.0, 22.0, 32.0])
    assert list(seasonal_naive(history, 4, season=3)) == [12.0, 22.0, 32.0, 12.0]
    scores = metrics(np.array([10.0, 20.0]), np.array([12.0, 18.0]), history, season=3)
    assert scores["rmse"] == pytest.approx(2.0) and scores["mae"] == pytest.approx(2.0)
    assert scores["mape"] == pytest.approx(15.0)  # (20 % + 10 %) / 2
    assert scores["mase"] == pytest.approx(1.0)  # the in-sample seasonal-naive error is 2


def test_sarima_is_skipped_cleanly_without_statsmodels(monkeypatch):
    monkeypatch.setitem(sys.modules, "statsmodels.tsa.statespace.sarimax", None)
    assert sarima(seasonal_series(60), 12, 12, log=True) is None


def test_sarima_baseline_follows_a_seasonal_series_when_statsmodels_is_installed():
    pytest.importorskip("statsmodels")
    values = seasonal_series(40, season=4)  # a short season keeps the state-space fit quick
    forecast = sarima(values[:32], 8, 4, log=True)
    assert np.sqrt(np.mean((forecast - values[32:]) ** 2)) < 2.0


def test_the_airline_series_ships_with_seqgen():
    series, season = load_series("airline")
    assert len(series.values) == 144 and season == 12
    assert series.dates[0] == "1949-01" and series.dates[-1] == "1960-12"
    assert series.values[0] == 112 and series.values[-1] == 432
    assert future_dates(series.dates, 3) == ["1961-01", "1961-02", "1961-03"]


@pytest.mark.slow
def test_cli_train_forecast_evaluate_round_trip(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "statsmodels.tsa.statespace.sarimax", None)  # seconds per fit; tested apart
    data = write_series_csv(tmp_path / "sales.csv", seasonal_series(96))
    result = run("train", "--task", "forecast", "--corpus", data, "--column", "sales", "--season", 12, "--holdout", 12,
                 "--output-dir", tmp_path, "--name", "f", *FAST)
    assert result.exit_code == 0, result.output
    run_dir = tmp_path / "f"
    assert {p.name for p in run_dir.iterdir()} >= {"best.pt", "latest.pt", "run.json", "loss.png"}
    payload = load_checkpoint(run_dir / "best.pt", task="forecast")  # plain data: loads with weights_only
    assert payload["train_points"] == 84 and payload["preprocessing"]["season"] == 12

    result = run("forecast", run_dir / "best.pt", "--horizon", 4, "--plot", tmp_path / "f.png", "--csv", tmp_path / "f.csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(open(tmp_path / "f.csv")))
    assert [r["date"] for r in rows] == ["2008-01", "2008-02", "2008-03", "2008-04"]  # after the whole series
    assert all(float(r["lower"]) <= float(r["forecast"]) <= float(r["upper"]) for r in rows)
    assert result.stdout.splitlines()[0] == "step,date,forecast,lower,upper"
    assert (tmp_path / "f.png").read_bytes()[:8] == PNG

    result = run("evaluate", run_dir / "best.pt", "--json")
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert figures["holdout"] == 12 and not figures["retrained"]
    lstm, naive = figures["scores"]["lstm"], figures["scores"]["seasonal naive"]
    assert lstm["rmse"] < naive["rmse"]  # the trend is what seasonal naive misses
    assert set(lstm) == {"rmse", "mae", "mape", "mase"} and "sarima" not in figures["scores"]

    result = run("evaluate", run_dir / "best.pt", "--backtest", "--origins", 2, "--holdout", 6)
    assert result.exit_code == 0, result.output
    assert "2 origin(s)" in result.stdout and "seasonal naive" in result.stdout


def write(tmp_path, text, name="bad.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("text, extra, expected", [
    ("month,sales\n2000-01,5\n2000-02,\n2000-03,7\n", [], "line 3 has a missing value in column 'sales'"),
    ("month,sales\n2000-01,5\n2000-02,lots\n", [], "line 3, column 'sales' holds 'lots', which is not a number"),
    ("month,sales\n" + "".join(f"2000-{m:02d},{m}\n" for m in range(1, 8)), ["--season", 12], "shorter than one season"),
    ("month,sales\n" + "".join(f"2000-{m:02d},{m}\n" for m in range(1, 8)), ["--season", 1, "--horizon", 12], "shorter than the horizon"),
    ("month,sales\n" + "".join(f"2000-{m:02d},{m}\n" for m in range(1, 13)) * 3, ["--season", 12], "need at least 49"),
    ("month,sales\n2000-01,5\n", ["--column", "price"], "has no column 'price'"),
    ("", [], "is empty"),
    ("month,sales\n" + "".join(f"x{i},{np.sin(i):.3f}\n" for i in range(80)), ["--season", 1, "--window", 8], "--no-log-transform"),
])
def test_bad_series_give_one_line_errors(tmp_path, text, extra, expected):
    path = write(tmp_path, text)
    message = one_line_error(run("train", "--task", "forecast", "--corpus", path, "--output-dir", tmp_path, *extra, "--quiet"))
    assert expected in message


def test_options_of_other_tasks_and_wrong_checkpoints_are_refused_in_one_line(tmp_path):
    assert "--patience" in one_line_error(run("train", "--task", "forecast", "--patience", 3))
    assert "no built-in series named 'nowhere'" in one_line_error(run("train", "--task", "forecast", "--corpus", "nowhere"))
    data = write_series_csv(tmp_path / "s.csv", seasonal_series(60))
    assert run("train", "--task", "forecast", "--corpus", data, "--column", "sales", "--season", 12, "--output-dir", tmp_path,
               "--name", "s", "--epochs", 2, "--ensemble", 1, "--window", 12, "--quiet").exit_code == 0
    assert "needs a classify checkpoint" in one_line_error(run("classify", tmp_path / "s", data))
    assert "too few to hold out" in one_line_error(run("evaluate", tmp_path / "s", "--holdout", 50))
    assert "--plot needs a file name ending in .png" in one_line_error(run("forecast", tmp_path / "s", "--plot", tmp_path / "f.txt"))
    assert "cannot write" in one_line_error(run("forecast", tmp_path / "s", "--csv", data / "inside-a-file.csv"))


# Forecast inputs that used to give absurd output: horizons and hold-outs past what a model can
# continue, non-finite forecasts, dates past the year 9999.


FORECAST = ["--epochs", 5, "--ensemble", 1, "--hidden-size", 8, "--window", 12, "--horizon", 6, "--device", "cpu", "--quiet"]


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
