"""The language model: character or subword text, or music events, learned with truncated BPTT and
sampled with temperature, top-k and top-p."""

from seqgen.models.configs import ModelConfig
from seqgen.tasks import lazy_parts
from seqgen.tasks.language_model.config import EvaluateConfig, SampleConfig, TrainConfig  # noqa: F401  (part of the API)

NAME = "language-model"
SUMMARY = "a language model of text or music"
CONFIGS = (ModelConfig, TrainConfig)  # the options of `seqgen train --task language-model`, in this order under --help
DATA_PARALLEL = True  # trains under torchrun, one share of the streams per process
SHOWS_SAMPLES = True  # `seqgen train --sample-length N` samples N tokens from the best model (training_sample)

# The rest imports torch, so it loads on first use: the command line lists options without it.
__getattr__, load = lazy_parts(__name__, {
    "LanguageModel": "seqgen.tasks.language_model.generate",
    "training_sample": "seqgen.tasks.language_model.generate",
}, "LanguageModel")
