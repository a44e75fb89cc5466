"""Neural networks, each rebuilt from its config dataclass (seqgen.models.configs); no files, no command
line. The networks import torch, so they load on first use: the configs alone do not."""

from seqgen.models.configs import ModelConfig, Seq2SeqConfig


def __getattr__(name: str):
    if name == "LSTMLanguageModel":
        from seqgen.models.lstm import LSTMLanguageModel

        return LSTMLanguageModel
    raise AttributeError(f"module 'seqgen.models' has no attribute {name!r}")


__all__ = ["LSTMLanguageModel", "ModelConfig", "Seq2SeqConfig"]
