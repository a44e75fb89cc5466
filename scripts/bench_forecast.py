"""Forecasting benchmarks, each LSTM figure the median over 5 seeds of `seqgen train --task forecast` (each a
5-network ensemble; seed s uses member seeds 1000 s … 1000 s + 4), beside the baselines on the same held-out
tail: seasonal naive, SARIMA (0,1,1)(0,1,1)s and Holt-Winters (additive trend, multiplicative season), the
latter two with statsmodels (pip install -e .[stats]). Writes JSON.

  airline  (BENCHMARKS.md §5): train on 1949-01 … 1959-12, forecast the 12 months of 1960 in one go; the
           defaults, and the same networks averaged with Holt-Winters (--combine holt-winters).
  uschange quarterly US consumption changes, the last 8 quarters held out: the same network with and without
           --covariates Income,Production,Savings,Unemployment (their past only); each arm's window and epochs
           chosen on the 8 quarters before the held-out ones (never on the held-out tail).

    python scripts/bench_forecast.py --part airline --output benchmarks/forecast-airline.json
    python scripts/bench_forecast.py --part uschange --output benchmarks/forecast-uschange.json
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from seqgen.data.series import load_series, read_series_csv
from seqgen.tasks.forecast.config import ForecastConfig
from seqgen.tasks.forecast.data import covariate_matrix, covariate_names
from seqgen.tasks.forecast.evaluate import holt_winters, metrics, sarima, seasonal_naive
from seqgen.tasks.forecast.forecast import predict
from seqgen.tasks.forecast.train import fit

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
KEYS = ("rmse", "mae", "mape", "mase")
# Uschange: consumption from its own past and, in the second arm, the past of the other four columns. Each arm's
# window and epochs are chosen among GRID by the RMSE on the last `holdout` points of the training part (seed 0).
USCHANGE = {"column": "Consumption", "season": 1, "log_transform": False, "horizon": 8, "hidden_size": 16,
            "weight_decay": 1e-2}
GRID = [{"window": w, "epochs": e} for w in (8, 16) for e in (20.0, 60.0)]
COVARIATES = "Income,Production,Savings,Unemployment"


def choose(config: ForecastConfig, history, holdout: int, changes: dict, covariates, columns) -> tuple[dict, list]:
    """The GRID point with the lowest RMSE on the last `holdout` points of `history`, trained on the points before
    them: validation inside the training part, so the test tail chooses nothing."""
    inner, check = history[:-holdout], history[-holdout:]
    scores = []
    for point in GRID:
        cfg = dataclasses.replace(config, seed=0, **changes, **point)
        names = covariate_names(cfg)
        cov = covariates[:len(inner), [list(columns).index(n) for n in names]] if names else None
        forecast = predict(fit(inner, cfg, 1, covariates=cov), inner, holdout, covariates=cov)["forecast"]
        scores.append({**point, "validation_rmse": float(np.sqrt(np.mean((forecast - check) ** 2)))})
        print(f"  {changes or 'own past'} {point}: validation RMSE {scores[-1]['validation_rmse']:.3f}")
    best = min(range(len(GRID)), key=lambda i: scores[i]["validation_rmse"])
    return GRID[best], scores


def baselines(history: np.ndarray, actual: np.ndarray, season: int, log: bool) -> dict:
    steps, scores = len(actual), {}
    scores["seasonal naive" if season > 1 else "naive"] = metrics(actual, seasonal_naive(history, steps, season),
                                                                  history, season)
    reference = sarima(history, steps, season, log)
    if reference is not None:
        scores[f"sarima (0,1,1)(0,1,1){season}" + (" on log" if log else "") if season > 1 else "arima (0,1,1)"] = \
            metrics(actual, reference, history, season)
    smoothed = holt_winters(history, steps, season)
    if smoothed is not None:
        scores["holt-winters (additive trend, multiplicative season)"] = metrics(actual, smoothed, history, season)
    scores["mean of the training part"] = metrics(actual, np.full(steps, history.mean()), history, season)
    return scores


def seeds_of(config: ForecastConfig, history, actual, season, seeds: int, arms: dict, covariates=None,
             columns: tuple = ()) -> dict:
    """Every arm (name → (config changes, state changes at forecast time)) over `seeds` seeds; `covariates` (N, K)
    holds the columns named in `columns`."""
    runs = {name: [] for name in arms}
    for s in range(seeds):
        fitted = {}  # arms with the same config share one trained ensemble (--combine changes only the forecast)
        for name, (changes, prep_changes) in arms.items():
            start = time.perf_counter()
            cfg = dataclasses.replace(config, seed=1000 * s, **changes)
            names = covariate_names(cfg)
            cov = covariates[:, [list(columns).index(n) for n in names]] if names else None
            if repr(changes) not in fitted:
                fitted[repr(changes)] = fit(history, cfg, season, covariates=None if cov is None else cov[:len(history)])
            state = fitted[repr(changes)]
            state = {**state, "preprocessing": {**state["preprocessing"], **prep_changes}}
            forecast = predict(state, history, len(actual), covariates=None if cov is None else cov[:len(history)])
            scores = metrics(actual, forecast["forecast"], history, season)
            seconds = time.perf_counter() - start
            runs[name].append({"seed": 1000 * s, "seconds": round(seconds, 2), **scores,
                               "forecast": [round(float(x), 4) for x in forecast["forecast"]]})
            print(f"{name} seed {1000 * s}: RMSE {scores['rmse']:.3f}  MAPE {scores['mape']:.2f} %  ({seconds:.1f} s)")
    return {name: {"median": {k: float(np.median([r[k] for r in rs])) for k in KEYS}, "runs": rs}
            for name, rs in runs.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("airline", "uschange"), default="airline")
    parser.add_argument("--data", default=None, help="the CSV [default: ../shared/data copy, else the built-in airline]")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--holdout", type=int, default=None, help="[default: 12 for airline, 8 for uschange]")
    parser.add_argument("--output", default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    os.environ["OMP_NUM_THREADS"] = "1"  # seqgen's thread policy keeps to it too

    if args.part == "airline":
        path = args.data or (SHARED / "airline-passengers.csv")
        series = read_series_csv(path, "passengers") if Path(path).exists() else load_series("airline")[0]
        config, season, holdout, log = ForecastConfig(season=12, device="cpu"), 12, args.holdout or 12, True
        arms = {"lstm (defaults)": ({"combine": "holt-winters"}, {"combine": "none"}),
                "lstm & holt-winters (--combine holt-winters)": ({"combine": "holt-winters"}, {})}
        covariates, names, selection = None, [], None
    else:
        path = args.data or (SHARED / "uschange" / "Uschange.csv")
        names = COVARIATES.split(",")
        series = read_series_csv(path, USCHANGE["column"], covariates=names)
        covariates = covariate_matrix(series.covariates, names)
        settings = {k: v for k, v in USCHANGE.items() if k != "column"}
        config, season, holdout, log = ForecastConfig(**settings, device="cpu"), 1, args.holdout or 8, False
        history = series.values[:-holdout]
        selection = {}
        for name, changes in (("lstm, own past only", {}), ("lstm + covariates", {"covariates": COVARIATES})):
            chosen, scores = choose(config, history, holdout, changes, covariates, names)
            selection[name] = {"chosen": chosen, "grid": scores}
        arms = {name: ({**changes, **selection[name]["chosen"]}, {})
                for name, changes in (("lstm, own past only", {}), ("lstm + covariates", {"covariates": COVARIATES}))}
    values = series.values
    history, actual = values[:-holdout], values[-holdout:]
    print(f"train {series.dates[0]} … {series.dates[-holdout - 1]} ({len(history)} points), "
          f"forecast {series.dates[-holdout]} … {series.dates[-1]}")
    config = dataclasses.replace(config, horizon=max(config.horizon, holdout))
    lstm = seeds_of(config, history, actual, season, args.seeds, arms, covariates, tuple(names))
    reference = baselines(history, actual, season, log)
    for name, scores in {**{f"{k} (median)": v["median"] for k, v in lstm.items()}, **reference}.items():
        print(f"{name:<56} RMSE {scores['rmse']:7.3f}  MAE {scores['mae']:7.3f}  "
              f"MAPE {scores['mape'] if scores['mape'] is not None else float('nan'):6.2f} %  MASE {scores['mase']:.3f}")
    result = {
        "benchmark": f"{args.part}: {holdout}-step forecast of the held-out tail in one go",
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "torch": torch.__version__, "threads": 1,
                    "note": "a 2-core CPU shared with other jobs"},
        "config": config.__dict__, "holdout": holdout, "selection": selection, "lstm": lstm, "baselines": reference,
        "actual": [float(x) for x in actual],
    }
    out = Path(args.output or f"benchmarks/forecast-{args.part}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
