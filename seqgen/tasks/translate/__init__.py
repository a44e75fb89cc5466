"""Translation: an LSTM encoder-decoder with attention on sentence pairs, greedy and beam search, BLEU."""

from seqgen.tasks.translate.config import TranslateConfig
from seqgen.tasks.translate.train import train
from seqgen.tasks.translate.translate import Translator

NAME = "translate"
SUMMARY = "an encoder-decoder with attention on sentence pairs"
CONFIGS = (TranslateConfig,)
load = Translator.load

__all__ = ["CONFIGS", "NAME", "SUMMARY", "TranslateConfig", "Translator", "load", "train"]
