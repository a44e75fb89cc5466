"""Remaining useful life: from run-to-failure logs of many units (C-MAPSS, or CSV), an ensemble of LSTM regressors
learns each unit's remaining steps, capped, from windows of its history; estimates with a band, and their
evaluation (RMSE, PHM08 score) beside baselines fitted in the same run."""

from seqgen.tasks import lazy_parts
from seqgen.tasks.remaining_life.config import (  # noqa: F401  (part of the API)
    EvaluateConfig,
    PredictConfig,
    RemainingLifeConfig,
)

NAME = "remaining-life"
SUMMARY = "an ensemble of LSTM estimators of remaining useful life"
CONFIGS = (RemainingLifeConfig,)  # the options of `seqgen train --task remaining-life`, in this order under --help

# The rest imports torch, so it loads on first use: the command line lists options without it.
__getattr__, load = lazy_parts(__name__, {
    "RemainingLife": "seqgen.tasks.remaining_life.predict",
    "RemainingLifeResult": "seqgen.tasks.remaining_life.train",
}, "RemainingLife")
