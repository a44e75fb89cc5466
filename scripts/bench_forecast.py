"""Airline passengers, the protocol of ../shared/BENCHMARKS.md §5: train on 1949-01 … 1959-12, forecast the
12 months of 1960 in one go (no peeking), RMSE / MAE / MAPE / MASE beside seasonal naive and SARIMA
(0,1,1)(0,1,1)12 on logs (when statsmodels is installed: pip install -e .[stats]). The LSTM figure is
the median over 5 seeds of `seqgen train --task forecast` with its defaults (each a 5-network ensemble;
seed s uses member seeds 1000 s … 1000 s + 4, so no two runs share a member). Writes JSON.

    python scripts/bench_forecast.py --output benchmarks/forecast-airline.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from seqgen.data.series import load_series, read_series_csv
from seqgen.tasks.forecast.config import ForecastConfig
from seqgen.tasks.forecast.evaluate import metrics, sarima, seasonal_naive
from seqgen.tasks.forecast.forecast import predict
from seqgen.tasks.forecast.train import fit

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "airline-passengers.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(SHARED) if SHARED.exists() else "airline",
                        help="airline CSV (month,passengers) [default: ../shared copy, else the built-in series]")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--holdout", type=int, default=12)
    parser.add_argument("--output", default="benchmarks/forecast-airline.json")
    args = parser.parse_args()

    series = load_series(args.data)[0] if args.data == "airline" else read_series_csv(args.data, "passengers")
    values, season = series.values, 12
    history, actual = values[:-args.holdout], values[-args.holdout:]
    print(f"train {series.dates[0]} … {series.dates[-args.holdout - 1]} ({len(history)} points), "
          f"forecast {series.dates[-args.holdout]} … {series.dates[-1]}")
    config = ForecastConfig(season=season, device="cpu")
    runs = []
    for s in range(args.seeds):
        start = time.perf_counter()
        state = fit(history, ForecastConfig(**{**config.__dict__, "seed": 1000 * s}), season)
        forecast = predict(state, history, args.holdout)["forecast"]
        seconds = time.perf_counter() - start
        scores = metrics(actual, forecast, history, season)
        runs.append({"seed": 1000 * s, "seconds": round(seconds, 2), **scores, "forecast": [round(float(x), 2) for x in forecast]})
        print(f"seed {1000 * s}: RMSE {scores['rmse']:.2f}  MAPE {scores['mape']:.2f} %  ({seconds:.1f} s)")
    median = {key: float(np.median([r[key] for r in runs])) for key in ("rmse", "mae", "mape", "mase")}
    baselines = {"seasonal naive": metrics(actual, seasonal_naive(history, args.holdout, season), history, season)}
    reference = sarima(history, args.holdout, season, log=True)
    if reference is not None:
        baselines["sarima (0,1,1)(0,1,1)12 on log"] = metrics(actual, reference, history, season)
    else:
        print("statsmodels is not installed: SARIMA skipped (pip install -e .[stats])")
    for name, scores in {"lstm (median of seeds)": median, **baselines}.items():
        print(f"{name:<34} RMSE {scores['rmse']:7.2f}  MAE {scores['mae']:7.2f}  MAPE {scores['mape']:5.2f} %  MASE {scores['mase']:.3f}")
    result = {
        "benchmark": "airline passengers, 12-step forecast of 1960 (BENCHMARKS.md §5)",
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "torch": torch.__version__, "threads": 1},
        "config": config.__dict__,
        "lstm_median": median, "runs": runs, "baselines": baselines,
        "actual": [float(x) for x in actual],
    }
    path = Path(args.output)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
