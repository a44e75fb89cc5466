"""Translation: an LSTM encoder-decoder with attention on sentence pairs, greedy and beam search, BLEU."""

from seqgen.tasks.translate.config import TranslateConfig

NAME = "translate"
SUMMARY = "an encoder-decoder with attention on sentence pairs"
CONFIGS = (TranslateConfig,)  # the options of `seqgen train --task translate`, in this order under --help

# The rest imports torch, so it loads on first use: the command line lists options without it.
_LAZY = {
    "Translator": "seqgen.tasks.translate.translate",
}


def __getattr__(attribute: str):
    if attribute in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[attribute]), attribute)
    raise AttributeError(f"module {__name__!r} has no attribute {attribute!r}")



def load(path, device: str = "auto"):
    """This task's model object, from a checkpoint alone."""
    from seqgen.tasks.translate.translate import Translator

    return Translator.load(path, device)
