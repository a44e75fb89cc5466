"""The dataclasses that rebuild each network, stored in its checkpoint; kept apart from the networks
themselves so that listing options (`seqgen train --help`) never has to import torch."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from seqgen.config import Checked, NetworkOptions, default, from_dict, option
from seqgen.errors import SeqgenError


@dataclass(frozen=True)
class ModelConfig(NetworkOptions):
    """Everything that rebuilds the language model; stored in the checkpoint."""

    # `vocab_size` is the training option --vocab-size (what the tokenizer is asked for); the network's own
    # count of tokens has another name, so no option of the task has two owners.

    num_tokens: int = option(0, "Tokens the network embeds and predicts: set from the tokenizer.", cli=False, min=0)
    embedding_dim: int = option(64, "Size of the token embedding.", min=1, max=65536)
    hidden_size: int = default(256)
    num_layers: int = default(2)
    dropout: float = default(0.1)
    tie_weights: bool = option(False, "Share the embedding and output weights (a projection is added when sizes differ).")
    forget_bias: float = option(0.0, "Added to the LSTM forget-gate biases at initialisation; a positive value (often "
                                "1) makes the network keep its memory from the start, which can help long-range "
                                "dependencies; 0 leaves PyTorch's initialisation.")
    weight_drop: float = option(0.0, "DropConnect on the recurrent (hidden-to-hidden) weights, one mask per window "
                                "(AWD-LSTM).", min=0.0, max=0.9)
    embedding_dropout: float = option(0.0, "Drop whole token types from the embedding, one mask per window (AWD-LSTM).",
                                      min=0.0, max=0.9)
    locked_dropout: bool = option(False, "Use one dropout mask for all time steps of a window on the LSTM's input and "
                                  "output (variational dropout).")



@dataclass(frozen=True)
class Seq2SeqConfig(Checked):
    """Everything that rebuilds the encoder-decoder; stored in the checkpoint (the defaults live in the
    translate task's config)."""

    source_vocab_size: int
    target_vocab_size: int
    embedding_dim: int
    hidden_size: int
    num_layers: int
    dropout: float


@dataclass(frozen=True)
class ForecasterConfig(Checked):
    """Everything that rebuilds one network of a forecast ensemble; stored in the checkpoint as its model_config."""

    input_size: int  # features per step: the scaled value, the season's features and the covariates
    hidden_size: int
    num_layers: int
    horizon: int
    dropout: float


@dataclass(frozen=True)
class ClassifierConfig(Checked):
    """Everything that rebuilds one network of a classify ensemble; stored in the checkpoint as its model_config."""

    num_classes: int
    hidden_size: int
    num_layers: int
    bidirectional: bool
    conv_channels: int
    dropout: float
    input_size: int = 1  # channels per step; checkpoints written before multichannel input lack it


def stored(cls, values):
    """The network config `cls` from a checkpoint's model_config: each field it must have is there and of its
    type (a field added later takes its default, a key of an older version is ignored)."""
    if not isinstance(values, dict):
        raise SeqgenError(f"its model_config is a {type(values).__name__}, not a dict")
    for f in dataclasses.fields(cls):
        if f.default is dataclasses.MISSING and f.name not in values:
            raise SeqgenError(f"its model_config lacks {f.name!r}")
    return from_dict(cls, values)


@dataclass(frozen=True)
class RegressorConfig(Checked):
    """Everything that rebuilds one network of a remaining-life ensemble; stored in the checkpoint as its
    model_config."""

    input_size: int  # measurement columns per step
    hidden_size: int
    num_layers: int
    dropout: float
