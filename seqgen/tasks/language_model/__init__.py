"""The language model: character or subword text, or music events, learned with truncated BPTT and
sampled with temperature, top-k and top-p."""

from seqgen.models.configs import ModelConfig
from seqgen.tasks.language_model.config import SampleConfig, TrainConfig  # noqa: F401  (part of the API)

NAME = "language-model"
SUMMARY = "a language model of text or music"
CONFIGS = (ModelConfig, TrainConfig)  # the options of `seqgen train --task language-model`, in this order under --help

# The rest imports torch, so it loads on first use: the command line lists options without it.
_LAZY = {
    "LanguageModel": "seqgen.tasks.language_model.generate",
}


def __getattr__(attribute: str):
    if attribute in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[attribute]), attribute)
    raise AttributeError(f"module {__name__!r} has no attribute {attribute!r}")



def load(path, device: str = "auto"):
    """This task's model object, from a checkpoint alone."""
    from seqgen.tasks.language_model.generate import LanguageModel

    return LanguageModel.load(path, device)
