"""Forecasting with covariates (other columns read as past inputs), the Holt-Winters baseline, and an
ensemble averaged with a statistical forecast (--combine)."""

import json

import numpy as np
import pytest
from conftest import one_line_error, run

from seqgen.tasks.forecast.baselines import holt_winters
from seqgen.tasks.forecast.config import ForecastConfig
from seqgen.tasks.forecast.forecast import predict
from seqgen.tasks.forecast.train import fit


def leading(n=160, seed=0):
    """y follows x three steps later (y_t = 2 x_{t-3}); x is a random AR(1) walk: only x's past tells y's future."""
    rng = np.random.default_rng(seed)
    x = np.zeros(n)
    for t in range(1, n):
        x[t] = 0.8 * x[t - 1] + rng.standard_normal()
    y = np.r_[np.zeros(3), 2 * x[:-3]] + 0.05 * rng.standard_normal(n)
    return y, x


@pytest.mark.slow
def test_a_leading_covariate_makes_the_forecast_far_better():
    y, x = leading()
    config = ForecastConfig(window=8, horizon=3, hidden_size=16, epochs=120, ensemble=1, season=1,
                            log_transform=False, device="cpu")
    errors = {}
    for name, covariates in (("with", x[:, None]), ("without", None)):
        cfg = ForecastConfig(**{**config.__dict__, "covariates": "x" if covariates is not None else None})
        state = fit(y[:130], cfg, 1, covariates=None if covariates is None else covariates[:130])
        errs = []
        for cut in range(130, 157, 3):  # nine origins after the training part, each forecast from its past alone
            forecast = predict(state, y[:cut], 3, covariates=None if covariates is None else covariates[:cut])
            errs.append(forecast["forecast"] - y[cut:cut + 3])
        errors[name] = float(np.sqrt(np.mean(np.square(errs))))
    assert errors["with"] < 0.5 * errors["without"], errors
    state = fit(y[:130], ForecastConfig(**{**config.__dict__, "covariates": "x"}), 1, covariates=x[:130, None])
    with pytest.raises(Exception, match="at most its horizon"):
        predict(state, y[:130], 4, covariates=x[:130, None])


def write_csv(path, y, x):
    rows = [f"{2000 + i // 4} Q{i % 4 + 1},{a:.5f},{b:.5f}" for i, (a, b) in enumerate(zip(y, x))]
    path.write_text("Quarter,target,lead\n" + "\n".join(rows) + "\n")
    return path


@pytest.mark.slow
def test_covariates_from_the_command_line(tmp_path):
    y, x = leading(120)
    path = write_csv(tmp_path / "lead.csv", y, x)
    common = ["--corpus", path, "--column", "target", "--no-log-transform", "--season", 1, "--window", 8,
              "--horizon", 3, "--ensemble", 1, "--epochs", 30, "--hidden-size", 8, "--device", "cpu", "--quiet"]
    result = run("train", "--task", "forecast", *common, "--covariates", "lead", "--holdout", 3,
                 "--output-dir", tmp_path, "--name", "c")
    assert result.exit_code == 0, result.output
    result = run("evaluate", tmp_path / "c", "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)["scores"]
    assert {"lstm+covariates", "seasonal naive"} <= set(scores) and "holt-winters" not in scores  # no season
    result = run("forecast", tmp_path / "c", "--horizon", 3)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1].startswith("1,2030 Q1,")  # quarterly dates continue
    assert "at most its horizon" in one_line_error(run("forecast", tmp_path / "c", "--horizon", 4))
    assert "horizon (3) of a model with covariates" in one_line_error(run("evaluate", tmp_path / "c", "--holdout", 6))
    assert "no column 'lag' for --covariates" in one_line_error(
        run("train", "--task", "forecast", *common, "--covariates", "lead,lag", "--output-dir", tmp_path))
    assert "names 'target' twice, or the value column" in one_line_error(
        run("train", "--task", "forecast", *common, "--covariates", "target", "--output-dir", tmp_path))
    assert "--holdout 5 is longer than --horizon 3" in one_line_error(
        run("train", "--task", "forecast", *common, "--covariates", "lead", "--holdout", 5, "--output-dir", tmp_path))


def seasonal(n=96):
    t = np.arange(n)
    return (100 + 2 * t) * (1 + 0.2 * np.sin(2 * np.pi * t / 12))


@pytest.mark.slow
def test_holt_winters_follows_a_multiplicative_season_and_declines_what_it_cannot_fit():
    values = seasonal()
    forecast = holt_winters(values[:84], 12, 12)
    assert forecast is not None and np.sqrt(np.mean((forecast - values[84:]) ** 2)) < 0.02 * values[84:].mean()
    assert holt_winters(values - 500, 12, 12) is None  # a multiplicative season needs positive values
    assert holt_winters(values[:84], 12, 1) is None  # no season


@pytest.mark.slow
def test_combine_averages_the_ensemble_with_holt_winters_and_moves_the_band_with_it():
    values = seasonal()
    config = ForecastConfig(window=24, horizon=12, hidden_size=8, epochs=20, ensemble=1, device="cpu")
    state = fit(values[:84], ForecastConfig(**{**config.__dict__, "combine": "holt-winters"}), 12)
    combined = predict(state, values[:84], 12)
    plain = predict({**state, "preprocessing": {**state["preprocessing"], "combine": "none"}}, values[:84], 12)
    expected = (plain["forecast"] + holt_winters(values[:84], 12, 12)) / 2
    assert np.allclose(combined["forecast"], expected)
    assert np.allclose(combined["upper"] - combined["lower"], plain["upper"] - plain["lower"])


@pytest.mark.slow
def test_combine_from_the_command_line_and_its_one_line_refusal(tmp_path):
    values = seasonal(72)
    path = tmp_path / "s.csv"
    path.write_text("month,sales\n" + "\n".join(f"{2000 + i // 12}-{i % 12 + 1:02d},{v:.3f}"
                                                for i, v in enumerate(values)) + "\n")
    common = ["--corpus", path, "--season", 12, "--window", 24, "--ensemble", 1, "--epochs", 5, "--hidden-size", 8,
              "--device", "cpu", "--quiet", "--output-dir", tmp_path]
    result = run("train", "--task", "forecast", *common, "--combine", "holt-winters", "--holdout", 12, "--name", "h")
    assert result.exit_code == 0, result.output
    result = run("evaluate", tmp_path / "h")
    assert result.exit_code == 0, result.output
    rows = {line.split()[0] for line in result.stdout.splitlines()[2:]}
    assert {"lstm", "seasonal", "sarima", "holt-winters"} <= rows and "& holt-winters" in result.stdout
    negative = tmp_path / "n.csv"
    negative.write_text("month,sales\n" + "\n".join(f"{2000 + i // 12}-{i % 12 + 1:02d},{v - 400:.3f}"
                                                    for i, v in enumerate(values)) + "\n")
    message = one_line_error(run("train", "--task", "forecast", *common[:1], negative, *common[2:], "--combine",
                                 "holt-winters", "--no-log-transform"))
    assert "holt-winters forecast of --combine could not be fitted" in message


def test_a_damaged_covariate_entry_is_refused_in_one_line(tmp_path):
    from seqgen.checkpoint import load_checkpoint, save_checkpoint

    y, x = leading(80)
    path = write_csv(tmp_path / "lead.csv", y, x)
    result = run("train", "--task", "forecast", "--corpus", path, "--column", "target", "--covariates", "lead",
                 "--no-log-transform", "--season", 1, "--window", 8, "--horizon", 3, "--ensemble", 1, "--epochs", 2,
                 "--hidden-size", 4, "--device", "cpu", "--quiet", "--output-dir", tmp_path, "--name", "c")
    assert result.exit_code == 0, result.output
    payload = load_checkpoint(tmp_path / "c" / "best.pt", task="forecast")
    for damage, expected in ((lambda p: p["preprocessing"].update(covariates=[7]), "its covariates hold a int"),
                             (lambda p: p["series"]["covariates"].pop("lead"), "lacks the values of covariate 'lead'")):
        damaged = {**payload, "preprocessing": dict(payload["preprocessing"]),
                   "series": {**payload["series"], "covariates": dict(payload["series"]["covariates"])}}
        damage(damaged)
        save_checkpoint(damaged, tmp_path / "damaged.pt")
        assert expected in one_line_error(run("forecast", tmp_path / "damaged.pt"))
