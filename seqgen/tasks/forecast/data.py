"""The forecaster's data: the series read and checked, the preprocessing fitted on its training part,
the windows the networks learn from, and the dates the forecast steps fall on.

    values ──log──▶ z ──(z − reference) / scale──▶ targets the network learns
    reference of step h: z one season before that step (seasonal_diff), else the last z seen.

The network thus learns a correction to the seasonal-naive (or naive) forecast, in units of the
typical one-season (or one-step) change of the training part. Covariates (other columns, --covariates)
enter the window beside it, each standardised by its training part's mean and deviation and clipped at ±3; only their
past is read, so a forecast with covariates is at most one horizon long.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
from typing import Optional

import numpy as np
import torch

from seqgen.checkpoint import require
from seqgen.data.series import FLOAT32_MAX, Series, check_series, load_series
from seqgen.errors import SeqgenError
from seqgen.tasks.forecast.baselines import combine_baseline
from seqgen.tasks.forecast.config import ForecastConfig


def covariate_names(config: ForecastConfig) -> list:
    """--covariates as a list of column names ("" or None: none)."""
    names = [name.strip() for name in (config.covariates or "").split(",")]
    if config.covariates and not all(names):
        raise SeqgenError(f"--covariates {config.covariates!r} has an empty name; give column names separated by commas")
    return [name for name in names if name]


def covariate_matrix(series_covariates: Optional[dict], names: list) -> Optional[np.ndarray]:
    """The covariates in the order of `names` as one (N, K) array, or None without any."""
    if not names:
        return None
    return np.stack([np.asarray(series_covariates[name], dtype=np.float64) for name in names], axis=1)


def read_training_series(config: ForecastConfig) -> tuple[Series, ForecastConfig, int]:
    """The series of --corpus, the config with its season resolved, and the number of points trained on
    (all but the last --holdout); every problem is one line naming the option to change."""
    names = covariate_names(config)
    if names and config.holdout > config.horizon:
        raise SeqgenError(f"--holdout {config.holdout} is longer than --horizon {config.horizon}: with --covariates a "
                          "forecast is at most one horizon long (the covariates' future is not known); raise "
                          "--horizon or lower --holdout")
    series, natural = load_series(config.corpus, config.column, names)
    season = config.season if config.season is not None else (natural or 1)
    config = dataclasses.replace(config, season=season)
    n_train = len(series.values) - config.holdout
    if n_train <= 0:
        raise SeqgenError(f"--holdout {config.holdout} leaves nothing to train on: the series has "
                          f"{len(series.values)} points")
    check_series(dataclasses.replace(series, values=series.values[:n_train]), season, config.horizon, config.window,
                 config.log_transform)
    if config.log_transform and np.any(series.values <= 0):
        check_series(series, season, config.horizon, config.window, True)
    return series, config, n_train


def series_payload(series: Series) -> dict:
    """The whole series as plain data, for the checkpoint (a forecast continues it, evaluate re-cuts it)."""
    saved = {"name": series.name, "column": series.column, "values": [float(v) for v in series.values],
             "dates": series.dates}
    if series.covariates:
        saved["covariates"] = {name: [float(v) for v in values] for name, values in series.covariates.items()}
    return saved


def check_training_values(values: np.ndarray, config: ForecastConfig, season: int,
                          covariates: Optional[np.ndarray] = None) -> None:
    """The training part of a series (and its covariates (N, K), with --covariates) is one the networks can
    learn from: long enough, numbers their 32-bit floats hold, and one the statistical model of --combine fits."""
    check_series(Series("series", values, None, "value"), season, config.horizon, config.window,
                 config.log_transform)
    names = covariate_names(config)
    if names and (covariates is None or covariates.shape != (len(values), len(names))):
        raise SeqgenError(f"--covariates {config.covariates} needs those columns beside the series' {len(values)} "
                          "points")
    for what, column in [("the series", values)] + [(f"covariate {name!r}", covariates[:, k])
                                                    for k, name in enumerate(names)]:
        if not np.all(np.abs(column) <= FLOAT32_MAX):  # NaN too
            point = int(np.argmin(np.abs(column) <= FLOAT32_MAX))
            raise SeqgenError(f"{what} holds {column[point]:.4g} at point {point + 1}: not a number within the "
                              f"range of 32-bit floats (±{FLOAT32_MAX:.3g}) the networks compute in; rescale it")
    if config.combine != "none":  # fail before training, not after: the statistical model must fit this series
        combine_baseline(config.combine, values, config.horizon, season, config.log_transform)


def saved_series(checkpoint: dict, config: ForecastConfig) -> tuple[Series, int]:
    """The series a checkpoint trains on (what series_payload wrote), and the points of its training part."""
    require(checkpoint, series=dict, train_points=int)
    require(checkpoint["series"], name=str, values=list, column=(str, type(None)), dates=(list, type(None)))
    saved = checkpoint["series"]
    series = Series(saved["name"], np.asarray(saved["values"], dtype=np.float64), saved["dates"], saved["column"],
                    {k: np.asarray(v, dtype=np.float64) for k, v in saved.get("covariates", {}).items()} or None)
    if not 0 < checkpoint["train_points"] <= len(series.values) or config.season is None:
        raise SeqgenError(f"its train_points ({checkpoint['train_points']}) or season do not fit its series")
    return series, checkpoint["train_points"]


def transform(values: np.ndarray, log: bool) -> np.ndarray:
    return np.log(values) if log else values.astype(np.float64)


def untransform(z: np.ndarray, log: bool) -> np.ndarray:
    with np.errstate(over="ignore"):  # a forecast that overflows is refused by check_forecast, in one line
        return np.exp(z) if log else z


def lag(prep: dict) -> int:
    return prep["season"] if prep["seasonal_diff"] and prep["season"] > 1 else 1


def reference(z: np.ndarray, t: int, steps: int, lag: int) -> np.ndarray:
    """For a forecast made after z[:t]: z one lag before each of the next `steps` steps (seen part only)."""
    h = np.arange(steps)
    return z[t - lag + (h % lag)]


CLIP = 3.0  # covariates beyond this many training deviations are read as this many


def inputs(z: np.ndarray, t: int, prep: dict, covariates: Optional[np.ndarray] = None) -> np.ndarray:
    """The window before time t as network input (T, F): level relative to its last value, season position,
    and the covariates (N, K) standardised, when the model reads any."""
    window = prep["window"]
    part = (z[t - window:t] - z[t - 1]) / prep["scale"]
    columns = [part]
    if prep["season"] > 1:
        angle = 2 * np.pi * (np.arange(t - window, t) % prep["season"]) / prep["season"]
        columns += [np.sin(angle), np.cos(angle)]
    for k, covariate in enumerate(prep.get("covariates") or []):
        # Clipped at ±CLIP deviations: one extreme quarter (a -5 sd fall in savings) must not swing the forecast.
        scaled = (covariates[t - window:t, k] - covariate["mean"]) / covariate["std"]
        columns.append(np.clip(scaled, -CLIP, CLIP))
    return np.stack(columns, axis=-1).astype(np.float32)


def input_size(season: int, covariates: int = 0) -> int:
    return (3 if season > 1 else 1) + covariates


def origins(n: int, prep: dict) -> range:
    return range(max(prep["window"], lag(prep)), n - prep["horizon"] + 1)


def training_set(z: np.ndarray, prep: dict, covariates: Optional[np.ndarray] = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Every window of the training part and the scaled corrections after it: (N, T, F) and (N, H)."""
    step_lag, horizon = lag(prep), prep["horizon"]
    starts = origins(len(z), prep)
    x = np.stack([inputs(z, t, prep, covariates) for t in starts])  # (N, T, F)
    y = np.stack([(z[t:t + horizon] - reference(z, t, horizon, step_lag)) / prep["scale"] for t in starts])  # (N, H)
    return torch.from_numpy(x), torch.from_numpy(y.astype(np.float32))


def prepare(values: np.ndarray, config: ForecastConfig, season: int, covariates: Optional[np.ndarray] = None) -> dict:
    """The preprocessing, fitted on the training values (and covariates, (N, K)) only; stored in the checkpoint."""
    prep = {"log": config.log_transform, "seasonal_diff": config.seasonal_diff, "season": season,
            "window": config.window, "horizon": config.horizon, "scale": 1.0, "combine": config.combine}
    z = transform(values, config.log_transform)
    changes = z[lag(prep):] - z[:-lag(prep)]
    prep["scale"] = float(np.std(changes)) or 1.0
    names = covariate_names(config)
    if names:
        prep["covariates"] = [{"name": name, "mean": float(np.mean(covariates[:, k])),
                               "std": float(np.std(covariates[:, k])) or 1.0} for k, name in enumerate(names)]
    return prep


def future_dates(dates: Optional[list], steps: int) -> list:
    """Dates of the forecast steps: monthly YYYY-MM, quarterly YYYY Qn and ISO dates continue; anything else
    becomes +1, +2, …"""
    if dates:
        last = str(dates[-1])
        quarter = re.fullmatch(r"(\d{4})([ -]?)Q([1-4])", last)
        if quarter and int(quarter[1]) + (int(quarter[3]) - 1 + steps) // 4 <= 9999:
            year, gap, q = int(quarter[1]), quarter[2], int(quarter[3]) - 1
            return [f"{year + (q + k) // 4:04d}{gap}Q{(q + k) % 4 + 1}" for k in range(1, steps + 1)]
        try:
            if len(last) == 7 and last[4] == "-":
                year, month = int(last[:4]), int(last[5:7])
                if 1 <= month <= 12 and 0 < year and year + (month - 1 + steps) // 12 <= 9999:
                    return [f"{year + (month - 1 + k) // 12:04d}-{(month - 1 + k) % 12 + 1:02d}"
                            for k in range(1, steps + 1)]
            stamps = [datetime.date.fromisoformat(d) for d in dates[-2:]]
            gap = stamps[1] - stamps[0]
            if gap.days > 0:
                return [(stamps[1] + gap * k).isoformat() for k in range(1, steps + 1)]
        except (ValueError, IndexError, TypeError, OverflowError):  # OverflowError: past the year 9999
            pass
    return [f"+{k}" for k in range(1, steps + 1)]
