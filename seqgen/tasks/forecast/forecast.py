"""A trained forecaster, loaded from its checkpoint alone: forecast the series it learned for any horizon
with a 90 % band, draw the forecast with a zoom, and evaluate held-out points."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from seqgen.checkpoint import require
from seqgen.config import from_dict
from seqgen.errors import SeqgenError
from seqgen.models.configs import ForecasterConfig, stored
from seqgen.options import check_plot_path
from seqgen.plots import pyplot, save_figure
from seqgen.tasks.forecast.baselines import COMBINABLE
from seqgen.tasks.forecast.config import EvaluateConfig, ForecastConfig, PredictConfig
from seqgen.tasks.forecast.data import (
    covariate_matrix,
    future_dates,
    input_size,
    inputs,
    lag,
    reference,
    transform,
    untransform,
)
from seqgen.tasks.forecast.predict import (
    check_forecast,
    max_steps,
    one_step_forecasts,
    predict,
    rebuild,
)
from seqgen.training.ensemble import LoadedEnsemble

NAME = "forecast"
def _numbers(values, what: str, low: float = -math.inf) -> None:
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= low
               for v in values):
        raise SeqgenError(f"its {what} holds a value that is not a finite number{'' if low == -math.inf else ' >= 0'}")


def check_payload(payload: dict) -> None:
    """A forecast checkpoint's parts, checked before anything is built from them (older formats come upgraded)."""
    require(payload, train_config=dict, series=dict, train_points=int, preprocessing=dict, model_config=dict,
            members=list, residual_std=list)
    from_dict(ForecastConfig, payload["train_config"])
    series, prep = payload["series"], payload["preprocessing"]
    require(series, name=str, values=list, dates=(list, type(None)))
    _numbers(series["values"], "series")
    if series["dates"] is not None and len(series["dates"]) != len(series["values"]):
        raise SeqgenError(f"its series has {len(series['values'])} values but {len(series['dates'])} dates")
    require(prep, log=bool, seasonal_diff=bool, season=int, window=int, horizon=int, scale=(int, float), combine=str)
    if prep["combine"] not in ("none", *COMBINABLE):
        raise SeqgenError(f"its preprocessing combines with {prep['combine']!r}, which seqgen does not know")
    covariates = prep.get("covariates") or []
    saved = series.get("covariates") or {}
    if not isinstance(covariates, list) or not isinstance(saved, dict):
        raise SeqgenError("its covariates are not a list of columns with their saved values")
    for covariate in covariates:
        if not isinstance(covariate, dict):
            raise SeqgenError(f"its covariates hold a {type(covariate).__name__}, not a column's name and scaling")
        require(covariate, name=str, mean=(int, float), std=(int, float))
        if not isinstance(saved.get(covariate["name"]), list) or len(saved[covariate["name"]]) != len(series["values"]):
            raise SeqgenError(f"its series lacks the values of covariate {covariate['name']!r}")
        _numbers(saved[covariate["name"]] + [covariate["mean"], covariate["std"]], f"covariate {covariate['name']!r}")
        if covariate["std"] <= 0:
            raise SeqgenError(f"its covariate {covariate['name']!r} has a scale <= 0")
    if prep["season"] < 1 or prep["window"] < 2 or prep["horizon"] < 1 or not (math.isfinite(prep["scale"])
                                                                                and prep["scale"] > 0):
        raise SeqgenError("its preprocessing has a season, window, horizon or scale out of range")
    if not max(prep["window"], lag(prep)) <= payload["train_points"] <= len(series["values"]):
        raise SeqgenError(f"its train_points ({payload['train_points']}) do not fit its series of "
                          f"{len(series['values'])} points and window of {prep['window']}")
    if len(payload["residual_std"]) != prep["horizon"]:
        raise SeqgenError(f"its residual_std has {len(payload['residual_std'])} steps, its horizon {prep['horizon']}")
    _numbers(payload["residual_std"], "residual_std", 0.0)
    config = stored(ForecasterConfig, payload["model_config"])
    if config.horizon != prep["horizon"] or config.input_size != input_size(prep["season"], len(covariates)):
        raise SeqgenError("its model_config does not match its preprocessing")
    if not payload["members"]:
        raise SeqgenError("it holds no networks")


class Forecaster(LoadedEnsemble):
    """What `seqgen.load` returns for a forecast checkpoint: the ensemble and the whole series it learned (its
    networks are rebuilt from the payload when a verb runs; loading builds each once, to check it)."""

    task = NAME

    @staticmethod
    def rebuild_networks(payload: dict, device: torch.device) -> list:
        check_payload(payload)
        for member in range(len(payload["members"])):
            rebuild(payload, member)
        return []

    @property
    def values(self) -> np.ndarray:
        return np.asarray(self.payload["series"]["values"], dtype=np.float64)

    @property
    def dates(self) -> Optional[list]:
        return self.payload["series"]["dates"]

    @property
    def covariates(self) -> Optional[np.ndarray]:
        """The covariates the model reads, (N, K) in its order, or None."""
        names = [c["name"] for c in self.payload["preprocessing"].get("covariates") or []]
        return covariate_matrix(self.payload["series"].get("covariates"), names)

    @property
    def train_points(self) -> int:
        return self.payload["train_points"]

    @property
    def horizon(self) -> int:
        return self.payload["preprocessing"]["horizon"]

    @property
    def train_config(self) -> ForecastConfig:
        return from_dict(ForecastConfig, self.payload["train_config"])

    @property
    def window(self) -> int:
        """The past points each forecast reads (a season more with seasonal differencing)."""
        return max(self.payload["preprocessing"]["window"], lag(self.payload["preprocessing"]))

    def one_step(self, values) -> np.ndarray:
        """The forecast of each point of `values` (a new series, in time order) from the `window` points before
        it, NaN for the first `window`: what `seqgen detect CHECKPOINT SERIES` compares each point with."""
        with self.thread_policy():
            return one_step_forecasts(self.payload, values, self.device)

    def forecast(self, horizon: Optional[int] = PredictConfig.horizon,
                 from_end: bool = PredictConfig.from_end) -> list[dict]:
        """The next `horizon` steps (default: the model's horizon) after the whole series, or after the
        points it was trained on (from_end=False, to set beside the held-out ones): one row per step with
        step, date, forecast and the 90 % band's lower and upper bounds."""
        asked = PredictConfig(horizon=horizon, from_end=from_end)
        horizon, from_end = asked.horizon, asked.from_end
        values = self.values
        n = len(values) if from_end else self.train_points
        steps = horizon or self.horizon
        most = max_steps(n)
        if steps > most:
            raise SeqgenError(f"--horizon {steps} is too long: at most {most} steps (as many as the {n} points "
                              "forecast from), beyond which the forecast rests on its own output; lower --horizon")
        covariates = self.covariates
        if covariates is not None and steps > self.horizon:
            raise SeqgenError(f"--horizon {steps} is too long: a model with covariates forecasts at most its horizon "
                              f"({self.horizon} steps), as their future is not known")
        with self.thread_policy():
            result = predict(self.payload, values[:n], steps, self.device,
                             None if covariates is None else covariates[:n])
        check_forecast(result, values[:n])
        labels = future_dates(self.dates[:n] if self.dates else None, steps)
        return [{"step": k + 1, "date": labels[k], "forecast": float(result["forecast"][k]),
                 "lower": float(result["lower"][k]), "upper": float(result["upper"][k])} for k in range(steps)]

    def plot(self, path, horizon: Optional[int] = PredictConfig.horizon, from_end: bool = PredictConfig.from_end,
             table: Optional[list] = None) -> Path:
        """Draw history, forecast, band (and the actual points, when forecasting from the training end) with
        a zoom on the forecast into a PNG, SVG or PDF; `table` reuses rows `forecast` already returned."""
        path = check_plot_path(path)
        if table is None:
            table = self.forecast(horizon, from_end)
        elif not (isinstance(table, list) and table and all(isinstance(row, dict) and
                                                            {"forecast", "lower", "upper"} <= set(row) for row in table)):
            raise SeqgenError("table must be the rows forecast() returned (each with forecast, lower and upper)")
        from_end = PredictConfig(from_end=from_end).from_end
        values = self.values
        n = len(values) if from_end else self.train_points
        result = {key: np.array([row[key] for row in table]) for key in ("forecast", "lower", "upper")}
        actual = values[n:n + len(table)] if n < len(values) else None
        return plot_forecast(self.payload, values[:n], result, path, actual)

    def inspect(self, member: int = 0):
        """Every gate, C and h of one network of the ensemble over the series: a network reads a fresh window
        of `window` points for each forecast, so step t holds its values after reading the window that ends at
        point t (from the first full window on), with its one-step forecast made there. A
        seqgen.inspect.Inspection of kind "series" (arrays (layers, T, hidden); `tokens` index the points)."""
        from seqgen.inspect import Inspection, series_features
        from seqgen.models.gates import lstm_gates

        members = len(self.payload["members"])
        if isinstance(member, bool) or not isinstance(member, int) or not 0 <= member < members:
            raise SeqgenError(f"--member must be a network of the ensemble, 0 to {members - 1}, not {member!r}")
        prep = self.payload["preprocessing"]
        values = self.values
        z = transform(values, prep["log"])
        ends = np.arange(max(prep["window"], lag(prep)), len(values) + 1)  # each window is z[end - window:end]
        model = rebuild(self.payload, member, self.device)
        x = torch.from_numpy(np.stack([inputs(z, end, prep) for end in ends])).to(self.device)  # (N, window, F)
        with self.thread_policy():
            gates, _ = lstm_gates(model.lstm, x)
            last = {q: v[:, :, -1].float().cpu().numpy() for q, v in gates.items()}  # each (L, N, H): after each window
            with torch.no_grad():
                correction = model.head(gates["h"][-1, :, -1])[:, 0].double().cpu().numpy()  # (N,)
        step_lag = lag(prep)
        forecast = untransform(np.array([reference(z, end, 1, step_lag)[0] for end in ends])
                               + correction * prep["scale"], prep["log"])
        points = ends - 1  # the last point each window holds
        if not np.all(np.isfinite(forecast)):
            point = int(points[np.argmin(np.isfinite(forecast))])
            raise SeqgenError(f"network {member}'s one-step forecast after point {point + 1} is not a finite number: the "
                              "network diverges there; retrain the model")
        labels = [self.dates[p] if self.dates else str(p + 1) for p in points]
        name = self.payload["series"]["name"]
        return Inspection(kind="series", tokens=points, labels=labels, gates=last, forecast=forecast,
                          values=values[points], features=series_features(values[points], prep["season"], points),
                          title=f"{name}: network {member} of {members}, after each window of {prep['window']} points")

    def evaluate(self, holdout: Optional[int] = EvaluateConfig.holdout, backtest: bool = EvaluateConfig.backtest,
                 origins: int = EvaluateConfig.origins) -> dict:
        """The figures `seqgen evaluate` prints, as a dict: RMSE, MAE, MAPE and MASE of the LSTM, seasonal
        naive and SARIMA on held-out points (see seqgen.tasks.forecast.evaluate)."""
        from seqgen.tasks.forecast.evaluate import evaluate_forecaster

        c = EvaluateConfig(holdout=holdout, backtest=backtest, origins=origins)
        with self.thread_policy():
            return evaluate_forecaster(self.payload, c.holdout, c.backtest, c.origins, self.device.type, self.threads)


def plot_forecast(payload: dict, history: np.ndarray, result: dict, path: str | Path,
                  actual: Optional[np.ndarray] = None) -> Path:
    """History, forecast and its 90 % band, and below it a zoom on the last seasons and the forecast."""
    plt = pyplot()

    path = Path(path)
    dates = payload["series"]["dates"]
    n, steps = len(history), len(result["forecast"])
    labels = (list(dates[:n]) if dates else [str(i + 1) for i in range(n)]) + future_dates(dates[:n] if dates else None,
                                                                                           steps)
    past, ahead = np.arange(n), np.arange(n, n + steps)
    name, season = payload["series"]["name"], payload["preprocessing"]["season"]
    fig, (top, zoom) = plt.subplots(2, 1, figsize=(9, 6.5), dpi=100, gridspec_kw={"height_ratios": [3, 2]})
    start = max(0, n - 2 * max(season, 6))
    for ax, first in ((top, 0), (zoom, start)):
        ax.plot(past[first:], history[first:], color="tab:blue", lw=1.4, label="history")
        if actual is not None:
            ax.plot(ahead[:len(actual)], actual, color="black", lw=1.2, ls="--", label="actual")
        ax.fill_between(ahead, result["lower"], result["upper"], color="tab:orange", alpha=0.25, label="90 % band")
        ax.plot(np.r_[n - 1, ahead], np.r_[history[-1], result["forecast"]], color="tab:orange", lw=1.8,
                marker="o" if ax is zoom else None, ms=3, label="forecast")
        ticks = np.unique(np.linspace(first, n + steps - 1, 8 if ax is top else min(8, n + steps - first)).astype(int))
        ax.set_xticks(ticks, [labels[t] for t in ticks], fontsize=8)
        ax.grid(alpha=0.3)
    top.axvspan(start, n + steps - 1, color="grey", alpha=0.08)
    combine = payload["preprocessing"]["combine"]
    top.set_title(f"{name}: {steps}-step forecast ({len(payload['members'])}-network LSTM ensemble"
                  + ("" if combine == "none" else f" & {combine}, their mean") + ")")
    top.legend(loc="upper left", fontsize=8)
    zoom.set_title("zoom on the forecast", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)
