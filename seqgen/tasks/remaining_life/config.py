"""The remaining-life task's options: the run-to-failure logs and their columns, the capped targets and windows,
the ensemble and its training with early stopping (RemainingLifeConfig), what `seqgen predict` asks
(PredictConfig) and what evaluating it scores (EvaluateConfig)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from seqgen.config import Checked, EnsembleOptions, default, option


@dataclass(frozen=True)
class RemainingLifeConfig(EnsembleOptions):
    """How a remaining-life model is built and trained; stored in its checkpoint."""

    corpus: Optional[str] = option(None, "Run-to-failure logs (required): one row per unit and time step, each unit "
                                   "run until it fails; C-MAPSS text (unit, cycle, 3 settings, 21 sensors, no header) "
                                   "or CSV with a header.", path=True)
    test: Optional[str] = option(None, "Logs of units stopped before failure, laid out as --corpus, scored after "
                                 "training at each unit's last step (needs --test-targets).", path=True)
    test_targets: Optional[str] = option(None, "The true remaining steps of the --test units, one number a line in "
                                         "the order of the units (C-MAPSS RUL_FD00x.txt).", path=True)
    unit_column: str = option("unit", "Column naming the unit, a whole number (a file without a header names its "
                              "first two columns unit and cycle).")
    time_column: str = option("cycle", "Column holding the time step, increasing within each unit.")
    columns: Optional[str] = option(None, "Columns the network reads (comma-separated names) [default: all but the "
                                    "unit and time columns, less those constant in the training file or uncorrelated "
                                    "with the remaining steps (--min-correlation)].")
    min_correlation: float = option(0.2, "Leave out columns whose correlation with the capped remaining steps, over "
                                    "the training rows, is smaller in size than this (noise that tells little of wear, "
                                    "such as C-MAPSS FD001's operating settings); 0 keeps every column that is not "
                                    "constant. The columns left out are reported.", min=0.0, max=1.0)
    smoothing: float = option(0.0, "Smooth each measurement by an exponential moving average over the unit's "
                              "history before the network reads it: the weight of the newest step (0: no smoothing). "
                              "It looks only back.", min=0.0, max=1.0)
    cap: int = option(125, "Remaining steps are learned capped at this (piece-wise linear: constant early in life, "
                      "as in the literature).", min=1)
    window: int = option(30, "Past steps the network reads for each estimate; a unit with fewer steps is refused.",
                         min=2)
    ensemble: int = option(5, "Networks trained with successive seeds, each stopping early on its own held-out "
                           "units; the estimate is their mean and their spread part of its band.", min=1)
    val_fraction: float = option(0.2, "Share of the training units held out for early stopping; each network holds "
                                 "out other units, so the ensemble learns from all of them (0: no validation).",
                                 min=0.0, max=0.5)
    patience: Optional[int] = option(8, "Stop a network after this many epochs without a better validation loss.",
                                     min=1)
    hidden_size: int = default(64)
    num_layers: int = default(1)
    dropout: float = default(0.2)
    batch_size: int = default(256, help="Training windows per optimizer step.")
    lr: float = default(3e-3, help="Learning rate of AdamW (constant).")
    weight_decay: float = default(1e-4)
    epochs: float = default(30.0, help="Most passes over the training windows, for each network of the ensemble.")
    seed: int = default(0, help="Random seed of the held-out units; network m of the ensemble uses seed + m for its "
                                "initialisation, dropout and data order.")


@dataclass(frozen=True)
class EvaluateConfig(Checked):
    """What `seqgen evaluate` scores of a remaining-life model (RemainingLife.evaluate's keywords)."""

    test: Optional[str] = option(None, "Test file to score, laid out as the training file [default: the run's "
                                 "--test file].", path=True)
    test_targets: Optional[str] = option(None, "The true remaining steps of the units of --test, one a line [default: "
                                         "the run's --test-targets].", path=True)


@dataclass(frozen=True)
class PredictConfig(Checked):
    """What `seqgen predict` asks of a remaining-life model (RemainingLife.predict's keywords)."""

    every_step: bool = option(False, "An estimate at every step of each unit (from its window-th on), not only at "
                              "its last.")
    level: float = option(0.9, "Coverage of the band around each estimate.", min=0.5, max=0.999)
