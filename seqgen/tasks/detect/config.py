"""The detector's options (DetectConfig: `seqgen detect` and seqgen.tasks.detect.detect's keywords)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from seqgen.config import Checked, option


@dataclass(frozen=True)
class DetectConfig(Checked):
    """How a series is read and scored."""

    column: Optional[str] = option(None, "CSV column holding the values [default: the last column].")
    probation: int = option(750, "Records at the start the detector learns normal behaviour from; they are not "
                            "scored (NAB's probation: 15 % of a file, at most 750).", min=3)
    threshold: float = option(0.5, "Scores at or above this flag an anomaly (0.5: a one-in-100,000 error level).",
                              min=0.0, max=1.0)
    allow_gaps: bool = option(False, "Read records in order even when the time between them varies (else a gap "
                              "is refused).")
    window: int = option(16, "Past records the online LSTM reads for each forecast.", min=2)
    hidden_size: int = option(16, "Hidden units of the online LSTM.", min=1)
    lr: float = option(3e-3, "Learning rate of the online LSTM (Adam).", min=0.0)
    seed: int = option(0, "Random seed of the online LSTM's initialisation and replay.")

# The options that shape the LSTM learning as it reads; with a trained forecaster they do not apply.
ONLINE_OPTIONS = ("window", "hidden_size", "lr", "seed")


@dataclass(frozen=True)
class EvaluateConfig(Checked):
    """Nothing: the detector keeps no checkpoint for `seqgen evaluate` (NAB's scoring is in evaluate.py)."""
