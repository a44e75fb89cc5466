"""Forecasting a numeric series: preprocessing fitted on the training part, an ensemble of direct
multi-step LSTM forecasters, forecasts with a 90 % band for any horizon, and their evaluation beside
seasonal naive and SARIMA."""

from seqgen.tasks.forecast.config import ForecastConfig
from seqgen.tasks.forecast.forecast import Forecaster
from seqgen.tasks.forecast.train import ForecastResult, fit, train

NAME = "forecast"
SUMMARY = "an ensemble of LSTM forecasters of a numeric series"
CONFIGS = (ForecastConfig,)  # the options of `seqgen train --task forecast`
load = Forecaster.load

__all__ = ["CONFIGS", "NAME", "SUMMARY", "ForecastConfig", "ForecastResult", "Forecaster", "fit", "load", "train"]
