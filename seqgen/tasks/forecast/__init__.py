"""Forecasting a numeric series: preprocessing fitted on the training part, an ensemble of direct
multi-step LSTM forecasters, forecasts with a 90 % band for any horizon, and their evaluation beside
seasonal naive and SARIMA."""

from seqgen.tasks.forecast.config import ForecastConfig

NAME = "forecast"
SUMMARY = "an ensemble of LSTM forecasters of a numeric series"
CONFIGS = (ForecastConfig,)  # the options of `seqgen train --task forecast`, in this order under --help

# The rest imports torch, so it loads on first use: the command line lists options without it.
_LAZY = {
    "Forecaster": "seqgen.tasks.forecast.forecast",
    "ForecastResult": "seqgen.tasks.forecast.train",
    "fit": "seqgen.tasks.forecast.train",
}


def __getattr__(attribute: str):
    if attribute in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[attribute]), attribute)
    raise AttributeError(f"module {__name__!r} has no attribute {attribute!r}")



def load(path, device: str = "auto"):
    """This task's model object, from a checkpoint alone."""
    from seqgen.tasks.forecast.forecast import Forecaster

    return Forecaster.load(path, device)
