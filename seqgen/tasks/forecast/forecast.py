"""Forecasting a numeric series: preprocessing fitted on the training part, an ensemble of direct
multi-step LSTM forecasters, forecasts with a band for any horizon, and the forecast checkpoint."""

from __future__ import annotations

import dataclasses
import datetime
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from tqdm import tqdm

from seqgen.checkpoint import load_checkpoint, save_checkpoint
from seqgen.config import ForecastConfig, to_dict
from seqgen.data.series import Series, check_series, load_series
from seqgen.device import resolve_device
from seqgen.errors import SeqgenError
from seqgen.models.forecast import LSTMForecaster

TASK = "forecast"
Z_90 = 1.645  # half-width of a 90 % Gaussian band, in standard deviations

#   values ──log──▶ z ──(z − reference) / scale──▶ targets the network learns
#   reference of step h: z one season before that step (seasonal_diff), else the last z seen.
# The network thus learns a correction to the seasonal-naive (or naive) forecast, in units of
# the typical one-season (or one-step) change of the training part.


def _transform(values: np.ndarray, log: bool) -> np.ndarray:
    return np.log(values) if log else values.astype(np.float64)


def _untransform(z: np.ndarray, log: bool) -> np.ndarray:
    return np.exp(z) if log else z


def _lag(prep: dict) -> int:
    return prep["season"] if prep["seasonal_diff"] and prep["season"] > 1 else 1


def _reference(z: np.ndarray, t: int, steps: int, lag: int) -> np.ndarray:
    """For a forecast made after z[:t]: z one lag before each of the next `steps` steps (seen part only)."""
    h = np.arange(steps)
    return z[t - lag + (h % lag)]


def _inputs(z: np.ndarray, t: int, prep: dict) -> np.ndarray:
    """The window before time t as network input (T, F): level relative to its last value, season position."""
    window = prep["window"]
    part = (z[t - window:t] - z[t - 1]) / prep["scale"]
    columns = [part]
    if prep["season"] > 1:
        angle = 2 * np.pi * (np.arange(t - window, t) % prep["season"]) / prep["season"]
        columns += [np.sin(angle), np.cos(angle)]
    return np.stack(columns, axis=-1).astype(np.float32)


def _origins(n: int, prep: dict) -> range:
    return range(max(prep["window"], _lag(prep)), n - prep["horizon"] + 1)


def _training_set(z: np.ndarray, prep: dict) -> tuple[torch.Tensor, torch.Tensor]:
    lag, horizon = _lag(prep), prep["horizon"]
    origins = _origins(len(z), prep)
    inputs = np.stack([_inputs(z, t, prep) for t in origins])  # (N, T, F)
    targets = np.stack([(z[t:t + horizon] - _reference(z, t, horizon, lag)) / prep["scale"] for t in origins])  # (N, H)
    return torch.from_numpy(inputs), torch.from_numpy(targets.astype(np.float32))


def prepare(values: np.ndarray, config: ForecastConfig, season: int) -> dict:
    """The preprocessing, fitted on the training values only; stored in the checkpoint."""
    prep = {"log": config.log_transform, "seasonal_diff": config.seasonal_diff, "season": season,
            "window": config.window, "horizon": config.horizon, "scale": 1.0}
    z = _transform(values, config.log_transform)
    changes = z[_lag(prep):] - z[:-_lag(prep)]
    prep["scale"] = float(np.std(changes)) or 1.0
    return prep


def _member_forecast(model: LSTMForecaster, z: np.ndarray, steps: int, prep: dict, device) -> np.ndarray:
    """Forecast `steps` points after z in one go when steps <= horizon, else by continuing from its own output."""
    z = z.copy()
    horizon, start = prep["horizon"], len(z)
    while len(z) < start + steps:
        x = torch.from_numpy(_inputs(z, len(z), prep)).unsqueeze(0).to(device)  # (1, T, F)
        with torch.no_grad():
            correction = model(x)[0].double().cpu().numpy()  # (H,)
        z = np.concatenate([z, _reference(z, len(z), horizon, _lag(prep)) + correction * prep["scale"]])
    return z[start:start + steps]


def fit(values: np.ndarray, config: ForecastConfig, season: int, progress: bool = False) -> dict:
    """Train the ensemble on `values` (the training part): returns the preprocessing, model config,
    members' weights, per-step residual spread and the loss history, all plain data."""
    threads = torch.get_num_threads()
    if resolve_device(config.device).type == "cpu":
        torch.set_num_threads(1)  # networks this small lose more to thread hand-offs than they gain
    try:
        return _fit(values, config, season, progress)
    finally:
        torch.set_num_threads(threads)


def _fit(values: np.ndarray, config: ForecastConfig, season: int, progress: bool) -> dict:
    series = Series("series", values, None, "value")
    check_series(series, season, config.horizon, config.window, config.log_transform)
    prep = prepare(values, config, season)
    z = _transform(values, config.log_transform)
    inputs, targets = _training_set(z, prep)
    device = resolve_device(config.device)
    inputs, targets = inputs.to(device), targets.to(device)
    model_config = {"input_size": int(inputs.size(-1)), "hidden_size": config.hidden_size,
                    "num_layers": config.num_layers, "horizon": config.horizon, "dropout": config.dropout}
    epochs = max(1, int(round(config.epochs)))
    members, history = [], np.zeros(epochs)
    bar = tqdm(total=config.ensemble * epochs, disable=not progress, file=sys.stderr, dynamic_ncols=True,
               desc="forecast ensemble")
    for member in range(config.ensemble):
        torch.manual_seed(config.seed + member)
        model = LSTMForecaster(**model_config).to(device)
        optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        order = torch.Generator().manual_seed(config.seed + member)
        for epoch in range(epochs):
            model.train()
            total = 0.0
            for batch in torch.randperm(len(inputs), generator=order).split(config.batch_size):
                loss = torch.nn.functional.mse_loss(model(inputs[batch]), targets[batch])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                total += loss.item() * len(batch)
            history[epoch] += total / len(inputs) / config.ensemble
            if not math.isfinite(total):
                raise SeqgenError(f"the training loss became {total} (member {member + 1}, epoch {epoch + 1}); lower --lr")
            bar.update(1)
        model.eval()
        members.append({k: v.detach().cpu() for k, v in model.state_dict().items()})
    bar.close()
    state = {"preprocessing": prep, "model_config": model_config, "members": members,
             "history": [{"epoch": e + 1, "train_loss": float(loss)} for e, loss in enumerate(history)]}
    # The band's second part: how far the ensemble's fit misses on the training part, per step ahead.
    with torch.no_grad():
        fitted = torch.stack([_rebuild(state, m, device)(inputs) for m in range(len(members))]).mean(0)
    state["residual_std"] = [float(x) for x in (fitted - targets).pow(2).mean(0).sqrt().cpu() * prep["scale"]]
    return state


def _rebuild(state: dict, member: int, device="cpu") -> LSTMForecaster:
    model = LSTMForecaster(**state["model_config"])
    model.load_state_dict(state["members"][member])
    return model.to(device).eval()


def predict(state: dict, values: np.ndarray, steps: int, device="cpu") -> dict:
    """Forecast `steps` points after `values`: the ensemble mean and a 90 % band (ensemble spread plus the
    training residuals, widening as the forecast continues from its own output), in the series' units."""
    prep = state["preprocessing"]
    if len(values) < max(prep["window"], _lag(prep)):
        raise SeqgenError(f"forecasting needs at least {max(prep['window'], _lag(prep))} past points; got {len(values)}")
    z = _transform(np.asarray(values, dtype=np.float64), prep["log"])
    paths = np.stack([_member_forecast(_rebuild(state, m, device), z, steps, prep, device)
                      for m in range(len(state["members"]))])  # (M, steps)
    center = paths.mean(0)
    residual = np.asarray(state["residual_std"])
    step = np.arange(steps)
    rounds = step // prep["horizon"] + 1
    spread = np.sqrt(paths.var(0) + (residual[step % prep["horizon"]] ** 2) * rounds)
    return {"forecast": _untransform(center, prep["log"]),
            "lower": _untransform(center - Z_90 * spread, prep["log"]),
            "upper": _untransform(center + Z_90 * spread, prep["log"])}


def max_steps(points: int) -> int:
    """The longest forecast offered after `points` known points: as many steps as points were learned from.
    Beyond it the forecast would rest more on the model's own output than on data, and a network continuing
    from its output for long drifts without bound (a 100,000-step airline forecast reached 1e150)."""
    return max(1, int(points))


# A forecast whose values leave this many times the largest absolute value of the history is refused as absurd.
ABSURD_FACTOR = 1e3


def check_forecast(result: dict, history: np.ndarray, what: str = "the forecast") -> None:
    """Refuse a forecast (or band) that is not finite or absurdly far from the history, naming the usable horizon."""
    limit = ABSURD_FACTOR * max(1.0, float(np.max(np.abs(history)))) if len(history) else np.inf
    bad = np.zeros(len(result["forecast"]), dtype=bool)
    for key in ("forecast", "lower", "upper"):
        if key in result:
            values = np.asarray(result[key], dtype=np.float64)
            bad |= ~np.isfinite(values) | (np.abs(values) > limit)
    if bad.any():
        first = int(np.argmax(bad))
        fix = f"forecast at most {first} steps" if first else "the model cannot forecast this series; retrain it"
        raise SeqgenError(f"{what} becomes non-finite or absurd (beyond {limit:.3g}) at step {first + 1}: "
                          f"the model diverges there; {fix}")


@dataclass
class ForecastRun:
    run_dir: Path
    train_points: int
    train_loss: float

    @property
    def best_path(self) -> Path:
        return self.run_dir / "best.pt"


def resolve_season(config: ForecastConfig, natural: Optional[int]) -> int:
    return config.season if config.season is not None else (natural or 1)


def train_forecaster(config: ForecastConfig, progress: bool = True) -> ForecastRun:
    """Read the series, train on all but its last --holdout points, write best.pt, latest.pt, run.json, loss.png."""
    from seqgen.train import _plot_history, _point_last_at, _write_json

    series, natural = load_series(config.corpus, config.column)
    season = resolve_season(config, natural)
    config = dataclasses.replace(config, season=season)
    n_train = len(series.values) - config.holdout
    if n_train <= 0:
        raise SeqgenError(f"--holdout {config.holdout} leaves nothing to train on: the series has {len(series.values)} points")
    check_series(dataclasses.replace(series, values=series.values[:n_train]), season, config.horizon, config.window,
                 config.log_transform)
    if config.log_transform and np.any(series.values <= 0):
        check_series(series, season, config.horizon, config.window, True)
    state = fit(series.values[:n_train], config, season, progress)
    run_dir = Path(config.output_dir) / (config.name or f"{series.name}-forecast-{datetime.datetime.now():%Y%m%d-%H%M%S}")
    payload = {
        "task": TASK,
        "train_config": to_dict(config),
        "series": {"name": series.name, "column": series.column, "values": [float(v) for v in series.values],
                   "dates": series.dates},
        "train_points": n_train,
        **state,
    }
    save_checkpoint(payload, run_dir / "best.pt")  # no validation split: the final ensemble is the best one
    save_checkpoint(payload, run_dir / "latest.pt")
    _point_last_at(run_dir)
    _write_json(run_dir / "run.json", {k: payload[k] for k in ("task", "train_config", "model_config", "preprocessing",
                                                                "train_points", "residual_std", "history")})
    _plot_history([{"step": h["epoch"], "train_loss": h["train_loss"]} for h in state["history"]], run_dir / "loss.png")
    return ForecastRun(run_dir, n_train, state["history"][-1]["train_loss"])


def load_forecaster(path) -> dict:
    payload = load_checkpoint(path, task=TASK)
    missing = [k for k in ("preprocessing", "model_config", "members", "residual_std", "series", "train_points") if k not in payload]
    if missing:
        raise SeqgenError(f"{path} is damaged: it lacks {', '.join(missing)}")
    return payload


def future_dates(dates: Optional[list], steps: int) -> list:
    """Dates of the forecast steps: monthly YYYY-MM and ISO dates continue; anything else becomes +1, +2, …"""
    if dates:
        last = str(dates[-1])
        try:
            if len(last) == 7 and last[4] == "-":
                year, month = int(last[:4]), int(last[5:7])
                if 1 <= month <= 12 and 0 < year and year + (month - 1 + steps) // 12 <= 9999:
                    return [f"{year + (month - 1 + k) // 12:04d}-{(month - 1 + k) % 12 + 1:02d}" for k in range(1, steps + 1)]
            stamps = [datetime.date.fromisoformat(d) for d in dates[-2:]]
            gap = stamps[1] - stamps[0]
            if gap.days > 0:
                return [(stamps[1] + gap * k).isoformat() for k in range(1, steps + 1)]
        except (ValueError, IndexError, TypeError, OverflowError):  # OverflowError: past the year 9999
            pass
    return [f"+{k}" for k in range(1, steps + 1)]
