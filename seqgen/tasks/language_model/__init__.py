"""The language model: character or subword text, or music events, learned with truncated BPTT and
sampled with temperature, top-k and top-p."""

from seqgen.models.lstm import ModelConfig
from seqgen.tasks.language_model.config import SampleConfig, TrainConfig
from seqgen.tasks.language_model.generate import LanguageModel
from seqgen.tasks.language_model.train import train

NAME = "language-model"
SUMMARY = "a language model of text or music"
CONFIGS = (ModelConfig, TrainConfig)  # the options of `seqgen train`, in this order under --help
load = LanguageModel.load

__all__ = ["CONFIGS", "NAME", "SUMMARY", "LanguageModel", "SampleConfig", "TrainConfig", "load", "train"]
