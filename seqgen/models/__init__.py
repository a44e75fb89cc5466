"""Neural networks; no files, no command line."""

from seqgen.models.lstm import LSTMLanguageModel

__all__ = ["LSTMLanguageModel"]
