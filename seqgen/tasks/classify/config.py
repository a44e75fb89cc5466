"""The classification task's options: the labelled files, the network's two readers, the ensemble and
its training with early stopping."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from seqgen.config import Checked, EnsembleOptions, default, option


@dataclass(frozen=True)
class ClassifyConfig(EnsembleOptions):
    """How a sequence classifier is built and trained; stored in its checkpoint."""

    corpus: Optional[str] = option(None, "Labelled training file (required): UCR format (the label first on each "
                                   "line), a UEA/UCR .ts file (one or more channels) or CSV with a header and a label "
                                   "column; or a named data set (ecg200, basicmotions, italypowerdemand: its TRAIN "
                                   "split, fetched on first use; see `seqgen corpora`).", path=True)
    test: Optional[str] = option(None, "Labelled test file scored after training, laid out as the training file; "
                                 "or a named data set (its TEST split).",
                                 path=True)
    label_column: Optional[str] = option(None, "Name of the label column of CSV files with a header [default: label, "
                                         "else the one named column among numbered ones, else the first].")
    bidirectional: bool = option(True, "Read each sequence both ways.")
    conv_channels: int = option(64, "Channels of the convolutional branch beside the LSTM (0: LSTM only).", min=0)
    class_weights: bool = option(True, "Weight the loss by inverse class frequency (for imbalanced classes).")
    ensemble: int = option(3, "Networks trained with successive seeds, each stopping early on its own validation "
                           "fold; a class is their mean probability.", min=1)
    val_fraction: float = option(0.2, "Share of each class held out for early stopping; each network holds out "
                                 "another fold, so the ensemble learns from every example (0: no validation).",
                                 min=0.0, max=0.5)
    patience: Optional[int] = option(40, "Stop a network after this many epochs without a better validation loss.",
                                     min=1)
    hidden_size: int = default(64)
    num_layers: int = default(1)
    dropout: float = default(0.2)
    lr: float = default(3e-3, help="Learning rate of AdamW (constant).")
    weight_decay: float = default(1e-2)
    epochs: float = default(150.0, help="Most passes over the training sequences, for each network of the ensemble.")
    batch_size: int = default(16, help="Sequences per optimizer step (at least 2, which batch norm needs).", min=2)
    seed: int = default(0, help="Random seed of the validation folds; network m of the ensemble uses seed + m for its "
                                "initialisation, dropout and data order.")


@dataclass(frozen=True)
class EvaluateConfig(Checked):
    """What `seqgen evaluate` scores of a classifier (Classifier.evaluate's keywords)."""

    test: Optional[str] = option(None, "File to score, laid out as the training file, or a named data set (its TEST "
                                 "split) [default: the run's --test].", path=True)
