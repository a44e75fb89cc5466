"""The forecasting task's options: the series, its preprocessing, the ensemble and its training (ForecastConfig),
what `seqgen forecast` asks (PredictConfig) and what evaluating it scores (EvaluateConfig)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from seqgen.config import Checked, EnsembleOptions, default, option


@dataclass(frozen=True)
class ForecastConfig(EnsembleOptions):
    """How a forecaster is built and trained; stored in its checkpoint."""

    corpus: str = option("airline", "The series: the built-in `airline` passengers, a named data set (uschange, "
                         "fetched on first use; see `seqgen corpora`), or a CSV file (dates in the first column, values "
                         "in --column, else the last).", path=True)
    column: Optional[str] = option(None, "CSV column holding the values [default: the last column].")
    covariates: Optional[str] = option(None, "Other CSV columns the network reads beside the series' own past "
                                       "(comma-separated, e.g. Income,Savings); only their past is used, so a "
                                       "forecast is at most --horizon steps.")
    season: Optional[int] = option(None, "Season length in steps, e.g. 12 for monthly data (1: none) [default: 12 "
                                   "for airline, else 1].", min=1)
    horizon: int = option(12, "Steps the network writes at once (longer forecasts continue from its own output).",
                          min=1)
    window: int = option(36, "Past steps the network reads for each forecast.", min=2)
    log_transform: bool = option(True, "Model the logarithm of the series (positive series whose swings grow with the "
                                 "level).")
    seasonal_diff: bool = option(True, "Learn the change from the same step a season earlier, not from the last "
                                 "value.")
    holdout: int = option(0, "Keep the last N points out of training, so `seqgen evaluate` can score their forecast.",
                          min=0)
    combine: str = option("none", "Average the LSTM ensemble's forecast with a statistical one fitted to the same "
                          "history (Holt-Winters: additive trend, multiplicative season; or SARIMA (0,1,1)(0,1,1)s); "
                          "needs statsmodels.", choices=("none", "holt-winters", "sarima"))
    ensemble: int = option(5, "Networks trained with successive seeds; the forecast is their mean and their spread "
                           "its band.", min=1)
    hidden_size: int = default(32)
    num_layers: int = default(1)
    dropout: float = default(0.0)
    batch_size: int = default(256, help="Training windows per optimizer step.")
    lr: float = default(1e-2, help="Learning rate of AdamW (constant).")
    weight_decay: float = default(1e-4)
    epochs: float = default(200.0, help="Passes over the training windows, for each network of the ensemble.")
    seed: int = default(0, help="Random seed; network m of the ensemble uses seed + m for its initialisation and "
                                "data order.")


@dataclass(frozen=True)
class EvaluateConfig(Checked):
    """What `seqgen evaluate` scores of a forecaster (Forecaster.evaluate's keywords)."""

    holdout: Optional[int] = option(None, "Score the forecast of the last N points [default: those the run kept out, "
                                    "else its horizon].", min=1)
    backtest: bool = option(False, "Repeat from several origins a season apart, retraining at each.")
    origins: int = option(3, "Origins of --backtest.", min=1)


@dataclass(frozen=True)
class PredictConfig(Checked):
    """What `seqgen forecast` asks of a forecaster (Forecaster.forecast's keywords)."""

    horizon: Optional[int] = option(None, "Steps to forecast [default: the model's horizon; at most the number of "
                                    "points it forecasts from].", min=1)
    from_end: bool = option(True, "Forecast after the whole series, or after the points the model was trained on (to "
                            "compare with --holdout).", off="--from-training-end")
