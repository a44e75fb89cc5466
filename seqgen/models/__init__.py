"""Neural networks, each beside the config that rebuilds it; no files, no command line."""

from seqgen.models.lstm import LSTMLanguageModel, ModelConfig

__all__ = ["LSTMLanguageModel", "ModelConfig"]
