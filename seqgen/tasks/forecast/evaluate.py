"""Scoring forecasts: hold out the last points (or several origins, --backtest), forecast them in one go,
and compare RMSE, MAE, MAPE and MASE with seasonal naive, SARIMA and Holt-Winters."""

from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np

from seqgen.config import from_dict
from seqgen.errors import SeqgenError
from seqgen.tasks.forecast.baselines import holt_winters, sarima, seasonal_naive
from seqgen.tasks.forecast.config import ForecastConfig
from seqgen.tasks.forecast.data import covariate_matrix
from seqgen.tasks.forecast.predict import check_forecast, max_steps, predict
from seqgen.tasks.forecast.train import fit


def metrics(actual: np.ndarray, forecast: np.ndarray, history: np.ndarray, season: int) -> dict:
    """RMSE, MAE, MAPE (%) and MASE, the latter scaled by the in-sample seasonal-naive error of `history`."""
    error = forecast - actual
    lag = season if len(history) > season else 1
    scale = np.mean(np.abs(history[lag:] - history[:-lag]))
    return {"rmse": float(np.sqrt(np.mean(error ** 2))), "mae": float(np.mean(np.abs(error))),
            "mape": float(100 * np.mean(np.abs(error / actual))) if np.all(actual != 0) else None,
            "mase": float(np.mean(np.abs(error)) / scale) if scale > 0 else None}


def score_origin(payload: dict, cut: int, steps: int, state: Optional[dict] = None, device: str = "cpu",
                 threads: Optional[int] = None) -> dict:
    """Forecast the `steps` points after values[:cut] with the model (retrained on values[:cut] with `threads`
    CPU threads unless `state` is given) and the baselines; every method sees only values[:cut]."""
    values = np.asarray(payload["series"]["values"], dtype=np.float64)
    config = from_dict(ForecastConfig, payload["train_config"])
    season = payload["preprocessing"]["season"]
    history, actual = values[:cut], values[cut:cut + steps]
    names = [c["name"] for c in payload["preprocessing"].get("covariates") or []]
    covariates = covariate_matrix(payload["series"].get("covariates"), names)
    covariates = None if covariates is None else covariates[:cut]
    if state is None:
        state = fit(history, dataclasses.replace(config, device=device, threads=threads), season, covariates=covariates)
    forecast = predict(state, history, steps, device, covariates)
    check_forecast(forecast, history, f"the LSTM forecast from origin {cut}")
    methods = {model_name(payload["preprocessing"]): forecast["forecast"],
               "seasonal naive": seasonal_naive(history, steps, season)}
    for name, baseline in (("sarima", sarima(history, steps, season, config.log_transform)),
                           ("holt-winters", holt_winters(history, steps, season))):
        if baseline is not None:
            methods[name] = baseline
    return {"origin": cut, "steps": steps,
            "scores": {name: metrics(actual, forecast, history, season) for name, forecast in methods.items()},
            "forecasts": {name: [float(x) for x in forecast] for name, forecast in methods.items()}}


def model_name(prep: dict) -> str:
    """The model's row in the table: the LSTM ensemble, or its average with a statistical forecast (--combine)."""
    combine = prep["combine"]
    covariates = "+covariates" if prep.get("covariates") else ""
    return f"lstm{covariates}" + ("" if combine == "none" else f" & {combine}")


def evaluate_forecaster(payload: dict, holdout: Optional[int] = None, backtest: bool = False, origins: int = 3,
                        device: str = "cpu", threads: Optional[int] = None) -> dict:
    """Score the forecast of held-out points. Without --holdout, the points the checkpoint itself kept out
    are scored with its own networks; any other cut retrains on the points before it (no peeking)."""
    n = len(payload["series"]["values"])
    kept_out = n - payload["train_points"]
    steps = holdout or kept_out or payload["preprocessing"]["horizon"]
    season = payload["preprocessing"]["season"]
    if steps < 1 or origins < 1:
        raise SeqgenError(f"--holdout and --origins must be at least 1 (got {steps} and {origins})")
    cuts = [n - steps - k * max(season, 1) for k in range(origins - 1, -1, -1)] if backtest else [n - steps]
    needed = payload["preprocessing"]["window"] + payload["preprocessing"]["horizon"] + 1
    if cuts[0] < needed:
        most = max(0, n - needed - (len(cuts) - 1) * max(season, 1))
        raise SeqgenError(f"the series has {n} points: too few to hold out {steps} points from {len(cuts)} origin(s) "
                          f"and still train on {needed}; " + (f"lower --holdout (at most {most} with {len(cuts)} origin(s))"
                                                              if most >= 1 else "lower --origins"))
    if steps > max_steps(cuts[0]):
        raise SeqgenError(f"--holdout {steps} is longer than the {cuts[0]} points the first forecast starts from; "
                          f"the longest forecast scored is as long as its history: use --holdout {max_steps(cuts[0])} "
                          "or less")
    horizon = payload["preprocessing"]["horizon"]
    if payload["preprocessing"].get("covariates") and steps > horizon:
        raise SeqgenError(f"--holdout {steps} is longer than the horizon ({horizon}) of a model with covariates, whose "
                          f"forecast is at most one horizon long; use --holdout {horizon} or less")
    results = []
    for cut in cuts:
        own = payload if cut == payload["train_points"] else None
        results.append(score_origin(payload, cut, steps, own, device, threads))
    names = list(results[0]["scores"])
    mean = {name: {key: _mean([r["scores"][name][key] for r in results if name in r["scores"]])
                   for key in ("rmse", "mae", "mape", "mase")} for name in names}
    dates = payload["series"]["dates"]
    return {"series": payload["series"]["name"], "holdout": steps, "origins": len(cuts),
            "first_forecast": [dates[c] if dates else str(c + 1) for c in cuts], "retrained": cuts != [payload["train_points"]],
            "scores": mean, "per_origin": results}


def _mean(values: list) -> Optional[float]:
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def format_table(result: dict) -> str:
    """The scores as a table, each column as wide as its widest figure so large ones never run together."""
    width = max([16] + [len(name) + 2 for name in result["scores"]])
    formats = (("RMSE", "rmse", ".2f", 10), ("MAE", "mae", ".2f", 10), ("MAPE %", "mape", ".2f", 9),
               ("MASE", "mase", ".3f", 8))
    cells = {name: [format(s[key], spec) if s[key] is not None else "-" for _, key, spec, _ in formats]
             for name, s in result["scores"].items()}
    widths = [max(least, *(len(row[k]) + 2 for row in cells.values())) for k, (_, _, _, least) in enumerate(formats)]
    lines = [f"{'method':<{width}}" + "".join(f"{head:>{w}}" for (head, _, _, _), w in zip(formats, widths))]
    for name, row in cells.items():
        lines.append(f"{name:<{width}}" + "".join(f"{cell:>{w}}" for cell, w in zip(row, widths)))
    return "\n".join(lines)
