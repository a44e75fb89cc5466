"""What a forecaster computes, apart from the loaded model: each network's forecast, the ensemble's mean and
90 % band, and the checks a forecast passes. seqgen.tasks.forecast.forecast (the loaded model) and
seqgen.tasks.forecast.evaluate (held-out figures) both build on it."""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from seqgen.config import to_dict
from seqgen.errors import SeqgenError
from seqgen.models.configs import ForecasterConfig, stored
from seqgen.models.forecast import LSTMForecaster
from seqgen.tasks.forecast.baselines import combine_baseline
from seqgen.tasks.forecast.data import inputs, lag, reference, transform, untransform

Z_90 = 1.645  # half-width of a 90 % Gaussian band, in standard deviations
# A forecast whose values leave this many times the largest absolute value of the history is refused as absurd.
ABSURD_FACTOR = 1e3


def rebuild(state: dict, member: int, device="cpu") -> LSTMForecaster:
    model = LSTMForecaster(**to_dict(stored(ForecasterConfig, state["model_config"])))
    model.load_state_dict(state["members"][member])
    return model.to(device).eval()


def member_forecast(model: LSTMForecaster, z: np.ndarray, steps: int, prep: dict, device,
                    covariates: Optional[np.ndarray] = None) -> np.ndarray:
    """Forecast `steps` points after z in one go when steps <= horizon, else by continuing from its own output
    (not with covariates, whose future is unknown: predict refuses that)."""
    z = z.copy()
    horizon, start = prep["horizon"], len(z)
    while len(z) < start + steps:
        x = torch.from_numpy(inputs(z, len(z), prep, covariates)).unsqueeze(0).to(device)  # (1, T, F)
        with torch.no_grad():
            correction = model(x)[0].double().cpu().numpy()  # (H,)
        z = np.concatenate([z, reference(z, len(z), horizon, lag(prep)) + correction * prep["scale"]])
    return z[start:start + steps]


def predict(state: dict, values: np.ndarray, steps: int, device="cpu", covariates: Optional[np.ndarray] = None) -> dict:
    """Forecast `steps` points after `values` (with `covariates` (N, K) beside them, for a model trained with
    --covariates): the ensemble mean and a 90 % band (ensemble spread plus the training residuals, widening as
    the forecast continues from its own output), in the series' units; with --combine, the mean of that and
    the statistical forecast, the band moved with it. `state` is a checkpoint payload or what `train.fit`
    returns."""
    prep = state["preprocessing"]
    if len(values) < max(prep["window"], lag(prep)):
        raise SeqgenError(f"forecasting needs at least {max(prep['window'], lag(prep))} past points; got {len(values)}")
    if prep.get("covariates"):
        if covariates is None or len(covariates) != len(values):
            raise SeqgenError("this model reads covariates: give them beside every past point of the series")
        if steps > prep["horizon"]:
            raise SeqgenError(f"a model with covariates forecasts at most its horizon ({prep['horizon']} steps): the "
                              f"covariates' future is not known; ask for {prep['horizon']} steps or fewer")
    z = transform(np.asarray(values, dtype=np.float64), prep["log"])
    paths = np.stack([member_forecast(rebuild(state, m, device), z, steps, prep, device, covariates)
                      for m in range(len(state["members"]))])  # (M, steps)
    center = paths.mean(0)
    residual = np.asarray(state["residual_std"])
    step = np.arange(steps)
    rounds = step // prep["horizon"] + 1
    spread = np.sqrt(paths.var(0) + (residual[step % prep["horizon"]] ** 2) * rounds)
    result = {"forecast": untransform(center, prep["log"]),
              "lower": untransform(center - Z_90 * spread, prep["log"]),
              "upper": untransform(center + Z_90 * spread, prep["log"])}
    if prep["combine"] != "none":
        baseline = combine_baseline(prep["combine"], np.asarray(values, dtype=np.float64), steps, prep["season"],
                                    prep["log"])
        shift = (baseline - result["forecast"]) / 2
        result = {key: value + shift for key, value in result.items()}
    return result


def max_steps(points: int) -> int:
    """The longest forecast offered after `points` known points: as many steps as points were learned from.
    Beyond it the forecast would rest more on the model's own output than on data, and a network continuing
    from its output for long drifts without bound."""
    return max(1, int(points))


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


def one_step_forecasts(state: dict, values: np.ndarray, device="cpu") -> np.ndarray:
    """The ensemble's forecast of every point of `values` from the points before it alone (NaN for the first
    ones, before a full window): what an anomaly detector sets each new point beside. Not for a model with
    covariates, which would need them beside every point."""
    prep = state["preprocessing"]
    if prep.get("covariates"):
        raise SeqgenError("this forecaster reads covariates; one-step forecasts of a new series need a model "
                          "trained without --covariates")
    values = np.asarray(values, dtype=np.float64)
    if prep["log"] and np.any(values <= 0):
        raise SeqgenError("this forecaster models the logarithm of its series, and the series holds a value <= 0; "
                          "train it with --no-log-transform")
    first = max(prep["window"], lag(prep))
    z = transform(values, prep["log"])
    result = np.full(len(values), np.nan)
    models = [rebuild(state, m, device) for m in range(len(state["members"]))]
    for chunk in np.array_split(np.arange(first, len(values)), max(1, (len(values) - first) // 4096)):
        if not len(chunk):
            continue
        x = torch.from_numpy(np.stack([inputs(z, end, prep) for end in chunk])).to(device)  # (B, window, F)
        with torch.no_grad():
            correction = torch.stack([model(x)[:, 0] for model in models]).mean(0).double().cpu().numpy()  # (B,)
        step = np.array([reference(z, end, 1, lag(prep))[0] for end in chunk])
        result[chunk] = untransform(step + correction * prep["scale"], prep["log"])
    return result
