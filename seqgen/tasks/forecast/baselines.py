"""The statistical forecasts a forecaster checks first: seasonal naive, SARIMA (0,1,1)(0,1,1)s (the airline
model) and Holt-Winters (additive trend, multiplicative season). The latter two need statsmodels (the
`stats` extra); without it, or where a method does not apply to a series, they return None."""

from __future__ import annotations

import warnings
from typing import Optional

import numpy as np

from seqgen.errors import SeqgenError


def seasonal_naive(history: np.ndarray, steps: int, season: int) -> np.ndarray:
    """Each step repeats the value one season earlier (the last value when there is no season)."""
    lag = season if season > 1 and len(history) >= season else 1
    return history[len(history) - lag + (np.arange(steps) % lag)]


def sarima(history: np.ndarray, steps: int, season: int, log: bool) -> Optional[np.ndarray]:
    """The airline model SARIMA(0,1,1)(0,1,1)s (on logs for positive series), or None without statsmodels."""
    try:
        from statsmodels.tsa.statespace.sarimax import SARIMAX
    except ImportError:
        return None
    log = log and bool(np.all(history > 0))
    y = np.log(history) if log else history
    seasonal = (0, 1, 1, season) if season > 1 and len(history) > 2 * season + 2 else (0, 0, 0, 0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = SARIMAX(y, order=(0, 1, 1), seasonal_order=seasonal).fit(disp=False)
            forecast = np.exp(result.forecast(steps)) if log else np.asarray(result.forecast(steps))
    except Exception:  # a fit that fails is a missing baseline, not a failed evaluation
        return None
    return forecast if np.all(np.isfinite(forecast)) else None


def holt_winters(history: np.ndarray, steps: int, season: int) -> Optional[np.ndarray]:
    """Holt-Winters with an additive trend and a multiplicative season (statsmodels ExponentialSmoothing, its
    parameters fitted by maximum likelihood), or None without statsmodels, without a season of at least two
    full cycles, or for a series with values <= 0 (a multiplicative season needs positive values)."""
    try:
        from statsmodels.tsa.holtwinters import ExponentialSmoothing
    except ImportError:
        return None
    if season < 2 or len(history) < 2 * season or not np.all(history > 0):
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = ExponentialSmoothing(np.asarray(history, dtype=np.float64), trend="add", seasonal="mul",
                                         seasonal_periods=season)
            forecast = np.asarray(model.fit().forecast(steps))
    except Exception:  # as for SARIMA: a failed fit is a missing baseline
        return None
    return forecast if np.all(np.isfinite(forecast)) else None


# The statistical forecasts an LSTM ensemble may be averaged with (--combine), by their option value.
COMBINABLE = ("holt-winters", "sarima")


def combine_baseline(method: str, history: np.ndarray, steps: int, season: int, log: bool) -> np.ndarray:
    """The forecast of --combine `method` after `history`; one line when it cannot be made."""
    if method == "holt-winters":
        forecast = holt_winters(history, steps, season)
    elif method == "sarima":
        forecast = sarima(history, steps, season, log)
    else:
        raise SeqgenError(f"--combine must be one of none, {', '.join(COMBINABLE)}, not {method!r}")
    if forecast is None:
        try:
            import statsmodels  # noqa: F401
        except ImportError:
            raise SeqgenError(f"this model averages its forecast with {method} (--combine), which needs statsmodels: "
                              "pip install seqgen[stats]") from None
        need = " (it needs a season of 2 or more, two seasons of history and values > 0)" \
            if method == "holt-winters" else ""
        raise SeqgenError(f"the {method} forecast of --combine could not be fitted to this series{need}")
    return forecast
