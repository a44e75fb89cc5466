"""Forecasting a numeric series: preprocessing fitted on the training part, an ensemble of direct
multi-step LSTM forecasters, forecasts with a 90 % band for any horizon, and their evaluation beside
seasonal naive and SARIMA."""

from seqgen.tasks import lazy_parts
from seqgen.tasks.forecast.config import EvaluateConfig, ForecastConfig, PredictConfig  # noqa: F401  (part of the API)

NAME = "forecast"
SUMMARY = "an ensemble of LSTM forecasters of a numeric series"
CONFIGS = (ForecastConfig,)  # the options of `seqgen train --task forecast`, in this order under --help

# The rest imports torch, so it loads on first use: the command line lists options without it.
__getattr__, load = lazy_parts(__name__, {
    "Forecaster": "seqgen.tasks.forecast.forecast",
    "ForecastResult": "seqgen.tasks.forecast.train",
    "fit": "seqgen.tasks.forecast.train",
}, "Forecaster")
